"""OpenMMLab loss protocol -> core loss. No math of its own; needs only mmengine.

Registered in mmengine's root ``MODELS``, so every OpenMMLab codebase (mmdet, mmseg, mmpretrain,
...) finds ``type='SoftmaxFocalLoss'`` through its parent registry. Under DDP the global
statistics travel through torch.distributed's default group, which mmengine's launchers create and
``mmengine.dist`` uses (one all-reduce of two float64 numbers per call).
"""
import torch
from mmengine.registry import MODELS

from ..focal_loss import SoftmaxFocalLoss, focal_loss_with_options
from ..options import OPTION_NAMES, REDUCTIONS, LossOptions, check_int
from .alpha_specs import alpha_from_spec


@MODELS.register_module(name="SoftmaxFocalLoss")
class OpenMMLabSoftmaxFocalLoss(SoftmaxFocalLoss):
    """``SoftmaxFocalLoss`` for OpenMMLab configs: ``loss_cls=dict(type='SoftmaxFocalLoss', ...)``.

    Takes every core argument as a keyword (``SoftmaxFocalLoss``'s, with its defaults) plus
    ``loss_weight``, ``use_sigmoid`` (mmdet heads read it to size the classifier; only False makes
    sense for a softmax loss) and ``loss_name`` (mmseg's key for the loss in the log, must start
    with ``loss_``). ``alpha`` may also be
    ``dict(type='class_balanced', ann_file=..., beta=..., mean=..., background_weight=...,
    classes=...)``: class-balanced factors computed from the training annotation file at build
    time, with the background weight at ``background_class`` (see ``annotations.alpha_from_spec``).

    ``forward(cls_score, label, weight=None, avg_factor=None, reduction_override=None,
    ignore_index=None)``:

    - ``weight``: per-position factors shaped like ``label``. Positions with weight 0 count as
      ignored (neither numerator nor denominator); other weights scale loss_i.
    - ``reduction_override`` replaces the configured reduction for this call; ``ignore_index``
      (passed by mmseg's decode heads) the configured ignore index.
    - ``mean_positive``: divides by the positive count computed from the labels (global under
      ``gather_distributed``) and ignores ``avg_factor``.
    - ``mean`` with ``avg_factor``: sum / (avg_factor + float32 eps), as mmdet's
      ``weight_reduce_loss`` does, on this rank only (``avg_factor`` is the caller's normaliser).
      ``mean`` without it: the core's mean over valid positions. ``sum`` with ``avg_factor``
      raises ``ValueError`` (as in mmdet).
    - The result is multiplied by ``loss_weight``.
    """

    def __init__(self, alpha=None, *, loss_weight: float = 1.0, use_sigmoid: bool = False,
                 loss_name: str = "loss_focal", **options):
        if use_sigmoid:
            raise ValueError("SoftmaxFocalLoss is a softmax loss: use_sigmoid must be False, got True "
                             "(use mmdet's FocalLoss for sigmoid classification)")
        if not isinstance(loss_name, str) or not loss_name.startswith("loss_"):
            raise ValueError(f"loss_name must be a str starting with 'loss_', got {loss_name!r}")
        unknown = set(options) - set(OPTION_NAMES) - {"compile"}
        if unknown:
            raise TypeError(f"SoftmaxFocalLoss got unexpected arguments {sorted(unknown)}; it takes alpha, "
                            f"loss_weight, use_sigmoid, loss_name, compile and {', '.join(OPTION_NAMES)}")
        if isinstance(alpha, dict):
            alpha = alpha_from_spec(alpha, options.get("background_class", LossOptions.background_class))
        super().__init__(alpha=alpha, **options)
        self.use_sigmoid = False
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name

    @property
    def loss_name(self):
        """mmseg sums the losses whose names start with ``loss_`` under this key."""
        return self._loss_name

    def forward(self, cls_score, label, weight=None, avg_factor=None, reduction_override=None, ignore_index=None):
        reduction = reduction_override or self.reduction
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction_override must be None or one of {REDUCTIONS}, got {reduction!r}")
        if avg_factor is not None and reduction == "sum":
            raise ValueError('avg_factor can not be used with reduction="sum"')
        ignore_index = self.ignore_index if ignore_index is None else check_int("ignore_index", ignore_index)
        local_mean = avg_factor is not None and reduction == "mean"
        options = self.options.replace(reduction="sum" if local_mean else reduction, ignore_index=ignore_index,
                                       gather_distributed=False if local_mean else self.gather_distributed)
        loss = focal_loss_with_options(cls_score, label, options=options, alpha=self.alpha, weight=weight,
                                       weight_zero_ignores=True, targets_name="label")
        if local_mean:
            loss = loss / (avg_factor + torch.finfo(torch.float32).eps)
        return self.loss_weight * loss


MMDetSoftmaxFocalLoss = OpenMMLabSoftmaxFocalLoss  # its name before mmseg used it too; kept importable
