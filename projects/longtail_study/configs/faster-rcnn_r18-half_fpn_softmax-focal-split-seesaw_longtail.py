# Long-tail study, two-stage (issue 36): ours with the objectness split and Seesaw's factors
# between the 16 classes, as mmdet's SeesawLoss sets them (p 0.8, q 2.0, counts of the sampled
# positive RoIs accumulated from zero during training, summed across GPUs): mmdet's Seesaw but
# with gamma 2 and the global positive count. Settings fixed before any run.
_base_ = './faster-rcnn_r18-half_fpn_softmax-focal-split_longtail.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(seesaw_p=0.8, seesaw_q=2.0, class_counts=[0] * 16, accumulate_counts=True))))
