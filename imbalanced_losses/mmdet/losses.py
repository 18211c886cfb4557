"""mmdet loss protocol -> core loss. No math of its own."""
import torch
from mmdet.registry import MODELS

from ..focal_loss import REDUCTIONS, SoftmaxFocalLoss, _check_weight, _softmax_focal_loss


@MODELS.register_module(name="SoftmaxFocalLoss")
class MMDetSoftmaxFocalLoss(SoftmaxFocalLoss):
    """``SoftmaxFocalLoss`` for mmdet configs: ``loss_cls=dict(type='SoftmaxFocalLoss', ...)``.

    Takes every core argument plus ``loss_weight`` and ``use_sigmoid`` (mmdet heads read it to
    size the classifier; only False makes sense for a softmax loss).

    ``forward(cls_score, label, weight=None, avg_factor=None, reduction_override=None)``:

    - ``weight``: per-position factors shaped like ``label``. Positions with weight 0 count as
      ignored (neither numerator nor denominator); other weights scale loss_i.
    - ``reduction_override`` replaces the configured reduction for this call.
    - ``mean_positive``: divides by the positive count computed from the labels (global under
      ``gather_distributed``) and ignores ``avg_factor``.
    - ``mean`` with ``avg_factor``: sum / (avg_factor + float32 eps), as mmdet's
      ``weight_reduce_loss`` does, on this rank only (``avg_factor`` is the caller's normaliser).
      ``mean`` without it: the core's mean over valid positions. ``sum`` with ``avg_factor``
      raises ``ValueError`` (as in mmdet).
    - The result is multiplied by ``loss_weight``.
    """

    def __init__(self, alpha=None, gamma=2.0, reduction="mean", label_smoothing=0.0, ignore_index=-100,
                 background_class=0, gather_distributed=None, loss_weight=1.0, use_sigmoid=False):
        if use_sigmoid:
            raise ValueError("SoftmaxFocalLoss is a softmax loss: use_sigmoid must be False, got True "
                             "(use mmdet's FocalLoss for sigmoid classification)")
        super().__init__(alpha=alpha, gamma=gamma, reduction=reduction, label_smoothing=label_smoothing,
                         ignore_index=ignore_index, background_class=background_class,
                         gather_distributed=gather_distributed)
        self.use_sigmoid = False
        self.loss_weight = float(loss_weight)

    def forward(self, cls_score, label, weight=None, avg_factor=None, reduction_override=None):
        reduction = reduction_override or self.reduction
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction_override must be None or one of {REDUCTIONS}, got {reduction!r}")
        if avg_factor is not None and reduction == "sum":
            raise ValueError('avg_factor can not be used with reduction="sum"')
        if weight is not None:
            _check_weight(weight, label, "label")  # before masked_fill, which would broadcast
            label = label.masked_fill(weight == 0, self.ignore_index)
        local_mean = avg_factor is not None and reduction == "mean"
        loss = _softmax_focal_loss(cls_score, label, self.alpha, self.gamma, "sum" if local_mean else reduction,
                                   self.label_smoothing, self.ignore_index, self.background_class,
                                   False if local_mean else self.gather_distributed, weight)
        if local_mean:
            loss = loss / (avg_factor + torch.finfo(torch.float32).eps)
        return self.loss_weight * loss
