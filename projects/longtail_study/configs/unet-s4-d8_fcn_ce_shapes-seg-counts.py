# The second segmentation twin's baseline: mmseg's default CrossEntropyLoss in both heads.
_base_ = './_base_/unet-s4-d8_fcn_shapes-seg-counts.py'
