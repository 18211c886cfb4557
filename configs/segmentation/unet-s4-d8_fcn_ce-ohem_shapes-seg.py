# mmseg's hard-pixel mining: CrossEntropyLoss with OHEMPixelSampler in the decode head, as mmseg's
# Cityscapes *_ohem configs set it: keep every pixel whose target probability is below thresh=0.7,
# and at least min_kept pixels per image (mmseg 1.2.2 multiplies min_kept by the batch size). There
# min_kept=100000 of a 512 x 1024 crop, 19% of its pixels; the same share of our 64 x 64 training
# crop is about 800. The sampler's per-pixel weights go to the decode head's loss only (mmseg's way).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

model = dict(decode_head=dict(sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=800)))
