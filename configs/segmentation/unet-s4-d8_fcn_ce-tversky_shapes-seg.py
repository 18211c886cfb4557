# CrossEntropyLoss plus mmseg's TverskyLoss at its defaults (alpha 0.3 on false positives, beta 0.7
# on false negatives: recall weighs more than in Dice) in both heads; it masks ignored pixels (255).
_base_ = '../_base_/unet-s4-d8_fcn_shapes-seg.py'

tversky = dict(type='TverskyLoss', alpha=0.3, beta=0.7, ignore_index=255)
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(tversky, loss_weight=1.0, loss_name='loss_tversky')]),
    auxiliary_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
        dict(tversky, loss_weight=0.4, loss_name='loss_tversky')]))
