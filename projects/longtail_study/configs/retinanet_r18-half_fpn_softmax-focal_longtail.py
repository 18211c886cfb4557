# Long-tail study: ours, softmax focal loss with RetinaNet's balance (background 0.75, classes
# 0.25), background at channel 0 with a prior, normalised by the global positive count.
_base_ = './_base_/retinanet_r18-half_fpn_shapes-longtail.py'

model = dict(
    bbox_head=dict(
        type='SoftmaxRetinaHead',
        background_prior=0.01,
        loss_cls=dict(
            _delete_=True,
            type='SoftmaxFocalLoss',
            gamma=2.0,
            alpha=[0.75] + [0.25] * 16,
            reduction='mean_positive',
            background_class=0,
            gather_distributed=True,
            loss_weight=1.0)))
