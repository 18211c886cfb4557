# CPU-sized semantic segmentation on the bundled shapes label maps (tools/generate_shapes_dataset.py
# --profile segmentation): a small UNet (4 stages, 16 base channels, from scratch) with mmseg's
# FCNHead at full resolution and an auxiliary FCNHead at 1/2, 4000 iterations of AdamW at batch 8 on
# 64 x 64 random crops. Frozen for the segmentation study (issue 23): calibrated on CE only, see
# projects/longtail_study/results/segmentation_calibration.md; changing it means re-running every
# variant.
# The losses are set by the configs that inherit this one (mmseg's CrossEntropyLoss here).
_base_ = 'mmseg::_base_/default_runtime.py'

custom_imports = dict(imports=['imbalanced_losses.mmseg'], allow_failed_imports=False)

data_root = 'data/shapes_seg/'
classes = ('background', 'solid_red_circle', 'solid_blue_square', 'hollow_red_triangle', 'solid_blue_circle',
           'hollow_blue_square', 'solid_red_triangle', 'hollow_red_circle', 'solid_red_square', 'hollow_blue_triangle',
           'hollow_blue_circle', 'hollow_red_square', 'solid_blue_triangle')
palette = [(0, 0, 0), (220, 20, 60), (0, 0, 230), (250, 100, 30), (0, 130, 230), (70, 0, 200), (255, 0, 120),
           (160, 40, 0), (240, 170, 0), (0, 200, 200), (120, 200, 0), (200, 0, 200), (0, 90, 40)]
num_classes = len(classes)
crop_size = (64, 64)  # training crops; evaluation on the whole 128 x 128 images
max_iters = 4000

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size),
    backbone=dict(
        type='UNet',
        in_channels=3,
        base_channels=16,
        num_stages=4,
        strides=(1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2),
        dec_num_convs=(2, 2, 2),
        downsamples=(True, True, True),
        enc_dilations=(1, 1, 1, 1),
        dec_dilations=(1, 1, 1),
        norm_cfg=norm_cfg,
        act_cfg=dict(type='ReLU'),
        upsample_cfg=dict(type='InterpConv'),
        norm_eval=False),
    decode_head=dict(
        type='FCNHead',
        in_channels=16,
        in_index=3,  # full resolution
        channels=16,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=32,
        in_index=2,  # 1/2 resolution
        channels=16,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.9),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs'),
]
dataset = dict(type='BaseSegDataset', data_root=data_root, metainfo=dict(classes=classes, palette=palette),
               img_suffix='.png', seg_map_suffix='.png', reduce_zero_label=False)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(dataset, data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='LongTailIoUMetric', iou_metrics=['mIoU'], train_seg_map_dir=data_root + 'ann_dir/train')
test_evaluator = val_evaluator

optim_wrapper = dict(type='OptimWrapper', optimizer=dict(type='AdamW', lr=2e-3, weight_decay=0.01),
                     clip_grad=dict(max_norm=10.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# A run killed and resumed with --resume ends with the weights of an uninterrupted one (the study
# runs without it, keeping the random streams the recipe was frozen with:
# projects/longtail_study/run_study.py).
custom_hooks = [dict(type='ExactResumeHook')]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook', interval=1))  # every val batch, when --show-dir draws
visualizer = dict(type='ImageGtPredVisualizer', vis_backends=[dict(type='LocalVisBackend')], name='visualizer')
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
