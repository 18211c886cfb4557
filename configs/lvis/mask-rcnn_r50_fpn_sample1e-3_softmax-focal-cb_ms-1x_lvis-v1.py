# Mask R-CNN R-50-FPN on LVIS v1 (mmdet's lvis/ config as it is: repeat-factor sampling with
# threshold 1e-3, multi-scale training, 1x, data/lvis_v1/) with our loss in the RoI box head.
# mmdet's Shared2FCBBoxHead puts the background LAST (label 1203), so background_class=1203.
# alpha: class-balanced weights (Cui et al. 2019) computed at build time from the training file,
# in the dataset's label order (the file's category order): foreground mean 1, background 1.
# beta 0.99 as in our CPU study; not tuned on LVIS, where repeat-factor sampling already
# rebalances the images (both together have not been measured; drop `alpha` to keep only the
# sampling). Normalised by the positive sampled RoIs of the whole batch across GPUs.
# Evaluation stays mmdet's LVISMetric, which needs the `lvis` package (see docs/guides/mmdetection.md: its releases need numpy < 1.24).
_base_ = 'mmdet::lvis/mask-rcnn_r50_fpn_sample1e-3_ms-1x_lvis-v1.py'

custom_imports = dict(imports=['imbalanced_losses.mmdet'], allow_failed_imports=False)

num_classes = 1203
model = dict(
    roi_head=dict(
        bbox_head=dict(
            num_classes=num_classes,
            loss_cls=dict(
                _delete_=True,
                type='SoftmaxFocalLoss',
                gamma=2.0,
                alpha=dict(type='class_balanced', ann_file='data/lvis_v1/annotations/lvis_v1_train.json',
                           beta=0.99, mean=1.0, background_weight=1.0),
                reduction='mean_positive',
                background_class=num_classes,
                gather_distributed=True,
                loss_weight=1.0))))

# A run killed and resumed with --resume ends with the weights of an uninterrupted one: seeded
# streams and loader workers that restart every epoch (ExactResumeHook; docs/guides/tools.md).
custom_hooks = [dict(type='ExactResumeHook')]
train_dataloader = dict(persistent_workers=False)
randomness = dict(seed=0)
