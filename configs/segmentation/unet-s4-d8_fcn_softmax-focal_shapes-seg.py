# Ours: SoftmaxFocalLoss (gamma 2, mean over the valid pixels, ignore label 255) in both heads.
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

focal = dict(type='SoftmaxFocalLoss', gamma=2.0, reduction='mean', ignore_index=255, loss_name='loss_focal')
model = dict(
    decode_head=dict(loss_decode=dict(focal, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(focal, loss_weight=0.4)))
