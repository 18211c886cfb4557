# Long-tail study: ours with class-balanced alpha (Cui et al. 2019) computed from the training
# annotation file at build time: foreground weights 1 / E_n with mean 0.25 (RetinaNet's
# foreground factor), background 0.75 at channel 0. beta 0.99: at these counts (3 to 1000
# instances) it spans the weights about 34 : 1, where 0.999 would be nearly inverse frequency
# (about 210 : 1). Chosen before any run, not tuned. The classes are the file's, in its order (as
# the dataset numbers them; pass classes=[...] to keep a subset).
_base_ = './retinanet_r18-half_fpn_softmax-focal_longtail.py'

model = dict(
    bbox_head=dict(
        loss_cls=dict(
            alpha=dict(_delete_=True, type='class_balanced',
                       ann_file='data/shapes_longtail/annotations/train.json',
                       beta=0.99, mean=0.25, background_weight=0.75))))
