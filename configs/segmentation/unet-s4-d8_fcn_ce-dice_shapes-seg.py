# mmseg's own imbalance option: CrossEntropyLoss plus a softmax Dice in both heads. The Dice is
# mmseg's TverskyLoss with alpha = beta = 0.5 (the per-class soft Dice over the valid pixels), not its
# DiceLoss: in mmseg 1.2.2 DiceLoss(ignore_index=255) lets the ignored pixels' predicted mass into its
# denominators (and takes one Dice over all classes); tests/openmmlab/test_dice_losses.py shows both
# against a float64 reference. CrossEntropyLoss(class_weight=...) is not usable here: in mmseg 1.2.2
# it raises IndexError on ignore labels (255) when computing its average factor
# (tests/openmmlab/test_segmentation.py documents it).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

dice = dict(type='TverskyLoss', alpha=0.5, beta=0.5, ignore_index=255)
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(dice, loss_weight=1.0, loss_name='loss_dice')]),
    auxiliary_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
        dict(dice, loss_weight=0.4, loss_name='loss_dice')]))
