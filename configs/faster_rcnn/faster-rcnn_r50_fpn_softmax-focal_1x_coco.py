# Faster R-CNN R-50-FPN 1x on COCO 2017 (data/coco/, as mmdet's own configs) with a softmax focal
# loss in the RoI head. mmdet's Shared2FCBBoxHead is used as it is: K + 1 outputs with the
# background LAST (label 80), scores softmax(-1)[:, :-1]; so background_class=80. No alpha: the
# 1 : 3 RoI sampling already balances foreground and background. The loss is divided by the
# positive sampled RoIs of the whole batch across GPUs (mmdet's CE divides by all sampled RoIs
# on each GPU).
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['imbalanced_losses.mmdet'], allow_failed_imports=False)

num_classes = 80
model = dict(
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                alpha=None,
                reduction='mean_positive',
                background_class=num_classes,
                gather_distributed=True,
                loss_weight=1.0))))

# A run killed and resumed with --resume ends with the weights of an uninterrupted one: seeded
# streams and loader workers that restart every epoch (ExactResumeHook; docs/guides/tools.md).
custom_hooks = [dict(type='ExactResumeHook')]
train_dataloader = dict(persistent_workers=False)
randomness = dict(seed=0)
