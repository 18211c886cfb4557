# The second segmentation twin (issue 44): the first twin's UNet + FCN recipe
# (configs/_base_/unet-s4-d8_fcn_shapes-seg.py) on the segmentation-counts profile of the bundled data
# (tools/generate_shapes_dataset.py --profile segmentation-counts): the same 12 shapes, background and
# ignore band, every shape drawn at 20-40 px, 300 down to 6 training instances, so that the rare shapes
# are rare by counts only. Calibrated on CE alone before any other variant ran
# (projects/longtail_study/results/segmentation_counts_calibration.md); the losses are set by the configs
# that inherit this one.
_base_ = '../../../../configs/_base_/unet-s4-d8_fcn_shapes-seg.py'

data_root = 'data/shapes_seg_counts/'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
val_evaluator = dict(train_seg_map_dir=data_root + 'ann_dir/train')
test_evaluator = dict(train_seg_map_dir=data_root + 'ann_dir/train')
