"""A softmax classification head for ``torchvision.models.detection.RetinaNet``.

torchvision's head scores every class with a sigmoid and normalises each image's focal loss by
that image's own foreground count (``max(1, num_foreground)``, one host sync per image). This head
keeps torchvision's layout and counting of classes (``num_classes`` includes the background, at
column 0, as torchvision's labels do) but makes the columns one softmax:

- training: one call of ``SoftmaxFocalLoss`` over the anchors of the whole batch, targets the
  matched box's label, 0 (background) below the low IoU threshold and ignored between the
  thresholds; with ``reduction='mean_positive'`` the sum is divided by the number of positive
  anchors of the whole batch (of every rank under ``gather_distributed``), without a host sync;
- prediction: the head returns the log-odds of the softmax probabilities with the background
  column at -inf, so that RetinaNet's own ``postprocess_detections`` (which applies a sigmoid)
  ranks and thresholds the softmax probabilities of the K foreground classes.

The box regression loss stays torchvision's.
"""
import math
from typing import Optional

import torch
from torchvision.models.detection.retinanet import RetinaNet, RetinaNetClassificationHead

from ..focal_loss import SoftmaxFocalLoss
from ..heads.background import build_or_check_loss
from ..heads.priors import background_prior_bias

HEAD_LOSS_DEFAULTS = dict(gamma=2.0, reduction="mean_positive", background_class=0)


class SoftmaxRetinaNetClassificationHead(RetinaNetClassificationHead):
    """RetinaNet's classification tower with a (``num_classes``)-way softmax, background at 0.

    Args:
        in_channels, num_anchors, num_classes, norm_layer: as ``RetinaNetClassificationHead``
            (``num_classes`` counts the background, as torchvision's detection models do).
        background_prior (float): initial p(background) = 1 - background_prior at every anchor,
            the foreground classes sharing the rest (torchvision's sigmoid head starts each class
            at 0.01).
        loss (SoftmaxFocalLoss | None): the loss; None builds ``SoftmaxFocalLoss(**loss_options)``
            with defaults gamma 2.0, ``reduction='mean_positive'``, ``background_class=0``.
        **loss_options: options of ``SoftmaxFocalLoss`` (alpha, gamma, gather_distributed,
            label_smoothing, backend, ...); ``background_class`` must stay 0.
    """

    def __init__(self, in_channels, num_anchors, num_classes, background_prior=0.01, norm_layer=None, loss=None,
                 **loss_options):
        super().__init__(in_channels, num_anchors, num_classes, norm_layer=norm_layer)
        if num_classes < 2:
            raise ValueError(f"num_classes counts the background and at least one class, got {num_classes}")
        self.loss = build_or_check_loss(loss, loss_options, HEAD_LOSS_DEFAULTS)
        bias = torch.zeros(num_anchors, num_classes)
        bias[:, 0] = background_prior_bias(num_classes - 1, background_prior, "background_prior")
        with torch.no_grad():
            self.cls_logits.bias.copy_(bias.flatten())  # torchvision's layout: anchor-major, then class

    def compute_loss(self, targets, head_outputs, matched_idxs):
        cls_logits = head_outputs["cls_logits"]
        labels = []
        for targets_per_image, matched in zip(targets, matched_idxs):
            matched_labels = targets_per_image["labels"][matched.clamp(min=0)] if len(targets_per_image["labels"]) \
                else torch.zeros_like(matched)
            labels.append(torch.where(matched >= 0, matched_labels,
                                      torch.where(matched == self.BETWEEN_THRESHOLDS,
                                                  torch.full_like(matched, self.loss.ignore_index),
                                                  torch.zeros_like(matched))))
        return self.loss(cls_logits.reshape(-1, self.num_classes), torch.cat(labels))

    def forward(self, x):
        logits = super().forward(x)
        if self.training:
            return logits
        # Log-odds of the softmax probabilities: RetinaNet's sigmoid in postprocess_detections gives
        # them back; the background column at -inf scores 0 and is never kept.
        log_p = torch.log_softmax(logits.float(), dim=-1)
        log_odds = log_p - torch.log1p(-torch.exp(log_p))
        background = torch.zeros_like(log_odds, dtype=torch.bool)
        background[..., 0] = True
        return log_odds.masked_fill(background, -math.inf).to(logits.dtype)


def softmax_retinanet(model: RetinaNet, background_prior: float = 0.01, loss: Optional[SoftmaxFocalLoss] = None,
                      **loss_options) -> RetinaNet:
    """Give a built ``RetinaNet`` (``retinanet_resnet50_fpn``, ``_v2``, or any backbone) our
    softmax classification head, in place: the old head's tower (and its weights) is kept, the
    classifier layer is new, initialised at ``background_prior``. Returns the model.

    Example::

        model = softmax_retinanet(retinanet_resnet50_fpn(weights=None, num_classes=91), gamma=2.0,
                                  alpha=[0.75] + [0.25] * 90)
    """
    old = model.head.classification_head
    head = SoftmaxRetinaNetClassificationHead(old.cls_logits.in_channels, old.num_anchors, old.num_classes,
                                              background_prior=background_prior, loss=loss, **loss_options)
    head.conv = old.conv  # the tower as built (norm layers of the v2 model included)
    model.head.classification_head = head.to(old.cls_logits.weight.device)
    return model
