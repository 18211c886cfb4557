# Median-frequency weighted cross-entropy (Eigen & Fergus, ICCV 2015; SegNet's class weights): ours
# with gamma=0 and alpha_c = median over classes of freq / freq_c, freq_c = pixels of c / pixels of the
# training images holding c, computed at build time from the training label maps. Like the
# class-weighted CE twin it divides by the number of valid pixels (not by sum_i alpha[y_i]).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

alpha = dict(type='median_frequency', seg_map_dir='data/shapes_seg/ann_dir/train', num_classes=13, ignore_index=255)
ce = dict(type='SoftmaxFocalLoss', gamma=0.0, reduction='mean', ignore_index=255, loss_name='loss_ce', alpha=alpha)
model = dict(
    decode_head=dict(loss_decode=dict(ce, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(ce, loss_weight=0.4)))
