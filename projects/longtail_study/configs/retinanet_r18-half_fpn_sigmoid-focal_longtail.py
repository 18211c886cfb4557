# Long-tail study: mmdet's stock RetinaHead with its sigmoid FocalLoss (gamma 2, alpha 0.25).
_base_ = './_base_/retinanet_r18-half_fpn_shapes-longtail.py'
