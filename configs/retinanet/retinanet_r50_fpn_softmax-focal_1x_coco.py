# RetinaNet R-50-FPN 1x on COCO 2017 (data/coco/, as mmdet's own configs) with a softmax focal
# loss: background at channel 0 with a background prior, normalised by the global number of
# positive anchors across GPUs.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['imbalanced_losses.mmdet'], allow_failed_imports=False)

num_classes = 80
model = dict(
    bbox_head=dict(
        type='SoftmaxRetinaHead',
        num_classes=num_classes,
        background_prior=0.01,
        loss_cls=dict(
            _delete_=True,
            type='SoftmaxFocalLoss',
            use_sigmoid=False,
            gamma=2.0,
            # RetinaNet's balance: 0.25 for foreground, 0.75 for the background (channel 0).
            alpha=[0.75] + [0.25] * num_classes,
            reduction='mean_positive',
            background_class=0,
            gather_distributed=True,
            loss_weight=1.0)))

# A run killed and resumed with --resume ends with the weights of an uninterrupted one: seeded
# streams and loader workers that restart every epoch (ExactResumeHook; docs/guides/tools.md).
custom_hooks = [dict(type='ExactResumeHook')]
train_dataloader = dict(persistent_workers=False)
randomness = dict(seed=0)
