# Long-tail study, two-stage: ours with class-balanced alpha (Cui et al. 2019) from the training
# annotation file: foreground weights 1 / E_n with mean 1 (the scale of the no-alpha variant),
# background 1 at channel 16 (last, as the head puts it). beta 0.99 as in the RetinaNet study
# (not tuned).
_base_ = './faster-rcnn_r18-half_fpn_softmax-focal_longtail.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(
                alpha=dict(_delete_=True, type='class_balanced',
                           ann_file='data/shapes_longtail/annotations/train.json',
                           beta=0.99, mean=1.0, background_weight=1.0)))))
