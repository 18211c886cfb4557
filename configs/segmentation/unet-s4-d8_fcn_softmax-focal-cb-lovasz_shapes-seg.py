# Ours + class-balanced alpha (the ours + CB twin's loss, the same alpha), compounded with
# mmseg's Lovász-softmax (present classes, over the batch).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

alpha = dict(type='class_balanced', seg_map_dir='data/shapes_seg/ann_dir/train', num_classes=13, ignore_index=255,
             beta=0.99, count='images')
focal = dict(type='SoftmaxFocalLoss', gamma=2.0, reduction='mean', ignore_index=255, loss_name='loss_focal',
             alpha=alpha)
lovasz = dict(type='LovaszLoss', loss_type='multi_class', classes='present', per_image=False, reduction='none')
model = dict(
    decode_head=dict(loss_decode=[dict(focal, loss_weight=1.0),
                                  dict(lovasz, loss_weight=1.0, loss_name='loss_lovasz')]),
    auxiliary_head=dict(loss_decode=[dict(focal, loss_weight=0.4),
                                     dict(lovasz, loss_weight=0.4, loss_name='loss_lovasz')]))
