# Long-tail study, two-stage (issue 36): ours with Seesaw's objectness split. fc_cls has K + 2
# outputs (mmdet's custom-channels protocol, as SeesawLoss uses it): the softmax focal loss on the
# 16 class logits over the positive RoIs, plus the softmax focal loss on the (object, background)
# pair over every sampled RoI, both divided by the global number of positive RoIs; prediction
# multiplies the class softmax by p(object). The background leaves the class competition.
_base_ = './faster-rcnn_r18-half_fpn_softmax-focal_longtail.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(objectness_split=True, num_classes=16))))
