# The CPU twin of Faster R-CNN for the long-tail study: the RetinaNet twin's backbone (ResNet-18 at
# half width, from scratch), data, schedule and evaluation
# (retinanet_r18-half_fpn_shapes-longtail.py), with a two-stage detector in place of the RetinaNet:
# FPN on strides 8/16/32, an RPN with 16/32/64 px anchors, RoIAlign 7x7 and mmdet's stock
# Shared2FCBBoxHead (K + 1 softmax outputs, background last). Sized for 2 CPU cores: 64 RoIs per
# image (mmdet: 512) sampled with at most 25% positives suit 128 px images holding 1-4 objects,
# and RoIAlign takes one sample per bin (sampling_ratio=1; mmdet: 0, adaptive), because mmcv's
# CPU RoIAlign backward took 150 ms of a 0.5 s iteration at 2 samples. The stock classification
# loss is mmdet's softmax cross-entropy; the faster-rcnn variants beside this folder swap only
# roi_head.bbox_head.loss_cls (and, for one, the fc_cls initialisation).
_base_ = './retinanet_r18-half_fpn_shapes-longtail.py'

num_classes = 16
model = dict(
    _delete_=True,
    type='FasterRCNN',
    data_preprocessor={{_base_.model.data_preprocessor}},  # the RetinaNet twin's, unchanged
    backbone={{_base_.model.backbone}},
    neck=dict(type='FPN', in_channels=[32, 64, 128, 256], out_channels=64, start_level=1, num_outs=3),
    rpn_head=dict(
        type='RPNHead',
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(type='AnchorGenerator', scales=[2], ratios=[0.5, 1.0, 2.0], strides=[8, 16, 32]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0], target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),
    roi_head=dict(
        type='StandardRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=1),
            out_channels=64,
            featmap_strides=[8, 16, 32]),
        bbox_head=dict(
            type='Shared2FCBBoxHead',
            in_channels=64,
            fc_out_channels=256,
            roi_feat_size=7,
            num_classes=num_classes,
            bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                            target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type='L1Loss', loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=False),
            allowed_border=-1,
            pos_weight=-1,
            debug=False),
        rpn_proposal=dict(nms_pre=1000, max_per_img=300, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=False, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=64, pos_fraction=0.25, neg_pos_ub=-1, add_gt_as_proposals=True),
            pos_weight=-1,
            debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=300, nms=dict(type='nms', iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100)))
