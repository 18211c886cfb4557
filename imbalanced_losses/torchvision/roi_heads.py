"""Faster R-CNN RoI heads whose box classification loss is the softmax focal loss.

torchvision's ``RoIHeads.forward`` computes the box losses with the module-level ``fastrcnn_loss``
(``F.cross_entropy`` over the sampled RoIs, no hook). ``SoftmaxFocalRoIHeads`` is a subclass, not a
patch of that function: in training it records the sampled labels (``select_training_samples``)
and the class logits (the box predictor's output) of the call and replaces
``losses['loss_classifier']`` by our loss on them; the box regression loss, the sampling, masks,
keypoints and inference are torchvision's, unchanged. (The stock cross-entropy is still computed
by the parent and thrown away: one cross-entropy over the sampled RoIs.)
"""
import inspect
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torchvision.models.detection.roi_heads import RoIHeads

from ..focal_loss import SoftmaxFocalLoss
from ..heads.background import build_or_check_loss

ROI_LOSS_DEFAULTS = dict(gamma=2.0, reduction="mean", background_class=0)


class SoftmaxFocalRoIHeads(RoIHeads):
    """``RoIHeads`` with ``loss`` (a ``SoftmaxFocalLoss``; None builds one from ``loss_options``,
    defaults gamma 2.0, ``reduction='mean'`` over the sampled RoIs as torchvision's cross-entropy,
    ``background_class=0``, torchvision's background label) for the box classification; every
    other argument is ``RoIHeads``'s. At gamma 0 without options the loss is ``fastrcnn_loss``'s."""

    def __init__(self, *args, loss: Optional[SoftmaxFocalLoss] = None, **kwargs):
        loss_options = {k: kwargs.pop(k) for k in list(kwargs) if k not in _ROI_HEADS_ARGUMENTS}
        super().__init__(*args, **kwargs)
        self.loss = build_or_check_loss(loss, loss_options, ROI_LOSS_DEFAULTS)
        self._sampled_labels: Optional[List[Tensor]] = None

    @classmethod
    def from_roi_heads(cls, roi_heads: RoIHeads, loss: Optional[SoftmaxFocalLoss] = None, **loss_options):
        """The same heads (modules and their weights, matcher, sampler, box coder, inference
        settings) with our box classification loss."""
        return cls(roi_heads.box_roi_pool, roi_heads.box_head, roi_heads.box_predictor,
                   roi_heads.proposal_matcher.high_threshold, roi_heads.proposal_matcher.low_threshold,
                   roi_heads.fg_bg_sampler.batch_size_per_image, roi_heads.fg_bg_sampler.positive_fraction,
                   roi_heads.box_coder.weights, roi_heads.score_thresh, roi_heads.nms_thresh,
                   roi_heads.detections_per_img, mask_roi_pool=roi_heads.mask_roi_pool,
                   mask_head=roi_heads.mask_head, mask_predictor=roi_heads.mask_predictor,
                   keypoint_roi_pool=roi_heads.keypoint_roi_pool, keypoint_head=roi_heads.keypoint_head,
                   keypoint_predictor=roi_heads.keypoint_predictor, loss=loss, **loss_options)

    def select_training_samples(self, proposals, targets):
        sampled = super().select_training_samples(proposals, targets)
        self._sampled_labels = sampled[2]  # this call's labels, read by forward
        return sampled

    def forward(self, features: Dict[str, Tensor], proposals: List[Tensor], image_shapes: List[Tuple[int, int]],
                targets: Optional[List[Dict[str, Tensor]]] = None):
        if not self.training:
            return super().forward(features, proposals, image_shapes, targets)
        logits = []
        hook = self.box_predictor.register_forward_hook(lambda module, inputs, outputs: logits.append(outputs[0]))
        try:
            result, losses = super().forward(features, proposals, image_shapes, targets)
        finally:
            hook.remove()
        labels, self._sampled_labels = self._sampled_labels, None
        losses["loss_classifier"] = self.loss(logits[0], torch.cat(labels))
        return result, losses


# RoIHeads' own keyword arguments, read from torchvision's signature (not a copy that could go stale)
_ROI_HEADS_ARGUMENTS = frozenset(inspect.signature(RoIHeads.__init__).parameters) - {"self"}


def softmax_focal_roi_heads(model, loss: Optional[SoftmaxFocalLoss] = None, **loss_options):
    """Give a built Faster R-CNN (or Mask / Keypoint R-CNN) our box classification loss, in
    place (``model.roi_heads`` becomes a ``SoftmaxFocalRoIHeads`` holding the same modules).
    Returns the model.

    Example::

        model = softmax_focal_roi_heads(fasterrcnn_resnet50_fpn(weights=None, num_classes=91), gamma=2.0)
    """
    model.roi_heads = SoftmaxFocalRoIHeads.from_roi_heads(model.roi_heads, loss=loss, **loss_options)
    return model
