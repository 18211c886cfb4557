# Long-tail study, one-stage (issue 36): ours (RetinaNet's 0.75 / 0.25 balance, background at
# channel 0 with a prior) with Seesaw's factors between the 16 classes (p 0.8, q 2.0, mmdet's),
# the counts the training instances per class from the annotation file (static); the background
# rows and column are exempt. Settings fixed before any run.
_base_ = './retinanet_r18-half_fpn_softmax-focal_longtail.py'

model = dict(
    bbox_head=dict(
        loss_cls=dict(
            seesaw_p=0.8, seesaw_q=2.0,
            class_counts=dict(type='class_counts', ann_file='data/shapes_longtail/annotations/train.json'))))
