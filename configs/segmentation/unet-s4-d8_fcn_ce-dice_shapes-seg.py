# mmseg's own imbalance option: CrossEntropyLoss plus a softmax DiceLoss in both heads (as in mmseg's
# configs that add Dice). CrossEntropyLoss(class_weight=...) is not usable here: in mmseg 1.2.2 it
# raises IndexError on ignore labels (255) when computing its average factor
# (tests/openmmlab/test_segmentation.py documents it).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(type='DiceLoss', use_sigmoid=False, ignore_index=255, loss_weight=1.0)]),
    auxiliary_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
        dict(type='DiceLoss', use_sigmoid=False, ignore_index=255, loss_weight=0.4)]))
