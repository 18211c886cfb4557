# Long-tail study, two-stage: mmdet's stock Faster R-CNN classification, softmax cross-entropy over
# the sampled RoIs (K + 1 classes, background last), averaged over the sampled RoIs.
_base_ = './_base_/faster-rcnn_r18-half_fpn_shapes-longtail.py'
