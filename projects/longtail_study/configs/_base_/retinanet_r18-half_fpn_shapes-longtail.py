# The CPU RetinaNet of retinanet_r18-half_fpn_shapes.py on the long-tailed profile of the bundled
# data (tools/generate_shapes_dataset.py --profile longtail): 16 confusable classes, 1000 : 3
# training instances, LVIS-like rare / common / frequent groups, evaluated with LVIS-style
# APr / APc / APf. The study's schedule (projects/longtail_study/run_study.py) is set here once for every variant.
_base_ = '../../../../configs/_base_/retinanet_r18-half_fpn_shapes.py'

data_root = 'data/shapes_longtail/'
classes = ('solid_red_circle', 'solid_blue_square', 'hollow_red_triangle', 'solid_red_cross',
           'hollow_blue_circle', 'solid_blue_triangle', 'solid_red_square', 'hollow_blue_square',
           'solid_red_triangle', 'hollow_red_cross', 'solid_blue_circle', 'hollow_red_circle',
           'hollow_red_square', 'hollow_blue_triangle', 'solid_blue_cross', 'hollow_blue_cross')
metainfo = dict(classes=classes)  # mmdet assigns a palette
num_classes = len(classes)

model = dict(bbox_head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='LongTailCocoMetric', ann_file=data_root + 'annotations/val.json',
                     metric='bbox', classwise=True)
test_evaluator = val_evaluator

max_epochs = 12
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=150),
    dict(type='CosineAnnealingLR', T_max=max_epochs, by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
default_hooks = dict(checkpoint=dict(interval=max_epochs))
