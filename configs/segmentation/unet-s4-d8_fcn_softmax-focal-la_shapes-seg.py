# Ours + logit adjustment at tau 0.5: the loss sees x_j + 0.5 * log(13 * pi_j), pi the share of
# the training pixels of each class (the background included), prediction the raw logits.
# Long-tail study (issue 36), fixed before any run.
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

offsets = dict(type='logit_adjustment', tau=0.5, seg_map_dir='data/shapes_seg/ann_dir/train', num_classes=13,
               ignore_index=255, count='pixels')
focal = dict(type='SoftmaxFocalLoss', gamma=2.0, reduction='mean', ignore_index=255, loss_name='loss_focal',
             logit_offsets=offsets)
model = dict(
    decode_head=dict(loss_decode=dict(focal, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(focal, loss_weight=0.4)))
