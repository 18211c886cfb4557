# The baseline: mmseg's default CrossEntropyLoss in both heads (the base config as it is).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'
