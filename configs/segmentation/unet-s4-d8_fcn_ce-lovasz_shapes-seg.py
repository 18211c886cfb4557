# CrossEntropyLoss plus mmseg's Lovász-softmax (Berman et al., CVPR 2018) in both heads: the
# convex surrogate of each present class's Jaccard loss, over the batch (per_image=False, which
# mmseg allows only with reduction='none'); ignored pixels (255) are dropped before it.
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

lovasz = dict(type='LovaszLoss', loss_type='multi_class', classes='present', per_image=False, reduction='none')
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(lovasz, loss_weight=1.0, loss_name='loss_lovasz')]),
    auxiliary_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
        dict(lovasz, loss_weight=0.4, loss_name='loss_lovasz')]))
