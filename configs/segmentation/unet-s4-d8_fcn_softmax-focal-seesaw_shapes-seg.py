# Ours + Seesaw's factors (p 0.8, q 2.0, mmdet's) between all 13 classes, the background
# included (background_class=-1: it is a class to segment like the others), the counts the
# training pixels per class from the label maps (static). Long-tail study (issue 36), fixed before
# any run.
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

counts = dict(type='class_counts', seg_map_dir='data/shapes_seg/ann_dir/train', num_classes=13, ignore_index=255,
              count='pixels')
focal = dict(type='SoftmaxFocalLoss', gamma=2.0, reduction='mean', ignore_index=255, loss_name='loss_focal',
             background_class=-1, seesaw_p=0.8, seesaw_q=2.0, class_counts=counts)
model = dict(
    decode_head=dict(loss_decode=dict(focal, loss_weight=1.0)),
    auxiliary_head=dict(loss_decode=dict(focal, loss_weight=0.4)))
