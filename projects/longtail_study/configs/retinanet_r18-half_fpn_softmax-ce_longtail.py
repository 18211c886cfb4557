# Long-tail study: the softmax head trained with plain cross-entropy (our loss, gamma 0, no alpha).
_base_ = './retinanet_r18-half_fpn_softmax-focal_longtail.py'

model = dict(bbox_head=dict(loss_cls=dict(gamma=0.0, alpha=None)))
