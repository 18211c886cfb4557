# Class-weighted cross-entropy: ours with gamma=0 is cross-entropy, and with a class-balanced alpha
# it is sum_i alpha[y_i] * ce_i / #valid pixels (the plain-count denominator; F.cross_entropy's
# weight=... divides by sum_i alpha[y_i] instead). mmseg's CrossEntropyLoss(class_weight=...) is not
# usable here: in mmseg 1.2.2 it raises IndexError on ignore labels (255). The same class-balanced
# alpha as the ours + class-balanced variant (Cui et al., beta 0.99, from training-image counts).
_base_ = './unet-s4-d8_fcn_softmax-focal-cb_shapes-seg.py'

focal = dict(gamma=0.0, loss_name='loss_ce')
model = dict(
    decode_head=dict(loss_decode=focal),
    auxiliary_head=dict(loss_decode=focal))
