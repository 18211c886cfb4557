# Comparison twin: the same softmax head trained with plain cross-entropy (our loss with
# gamma 0 and no alpha), normalised like the focal variant.
_base_ = './retinanet_r18-half_fpn_softmax-focal_30e_shapes.py'

model = dict(bbox_head=dict(loss_cls=dict(gamma=0.0, alpha=None)))
