# Ours on the bundled shapes data: softmax focal loss, background at channel 0 with a prior,
# RetinaNet's 0.25/0.75 balance, normalised by the global positive count.
_base_ = '../_base_/retinanet_r18-half_fpn_shapes.py'

model = dict(
    bbox_head=dict(
        type='SoftmaxRetinaHead',
        background_prior=0.01,
        loss_cls=dict(
            _delete_=True,
            type='SoftmaxFocalLoss',
            gamma=2.0,
            alpha=[0.75] + [0.25] * 8,
            reduction='mean_positive',
            background_class=0,
            gather_distributed=True,
            loss_weight=1.0)))
