# Ours + class-balanced alpha (Cui et al., beta 0.99), computed at build time from the number of
# training label maps holding each class (image counts, not pixel counts: with ~10^4-10^6 pixels
# per class, 1 - beta^n saturates and every weight would be the same).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

alpha = dict(type='class_balanced', seg_map_dir='data/shapes_seg/ann_dir/train', num_classes=13, ignore_index=255,
             beta=0.99, count='images')
focal = dict(type='SoftmaxFocalLoss', gamma=2.0, reduction='mean', ignore_index=255, loss_name='loss_focal',
             alpha=alpha)
model = dict(
    decode_head=dict(loss_decode=dict(focal, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(focal, loss_weight=0.4)))
