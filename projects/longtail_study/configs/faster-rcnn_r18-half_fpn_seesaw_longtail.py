# Long-tail study, two-stage: mmdet's SeesawLoss (Wang et al., CVPR 2021) with its LVIS settings
# (p 0.8, q 2.0; mmdet's seesaw_loss/ configs), on the stock linear classifier (K + 2 outputs:
# the loss adds an objectness pair).
_base_ = './_base_/faster-rcnn_r18-half_fpn_shapes-longtail.py'

model = dict(
    roi_head=dict(
        bbox_head=dict(
            loss_cls=dict(_delete_=True, type='SeesawLoss', p=0.8, q=2.0, num_classes=16, loss_weight=1.0))))
