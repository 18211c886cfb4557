"""OpenMMLab loss protocol -> core loss. No math of its own; needs only mmengine.

Registered in mmengine's root ``MODELS``, so every OpenMMLab codebase (mmdet, mmseg, mmpretrain,
...) finds ``type='SoftmaxFocalLoss'`` through its parent registry. Under DDP the global
statistics travel through ``mmengine.dist.all_reduce`` (one all-reduce of two float64 numbers per
call), which moves them to the communication device of the process group's backend (CUDA for
NCCL, and NPU, MLU, MUSA for theirs), as the rest of an OpenMMLab run communicates; the core,
which imports only torch, calls ``torch.distributed`` itself.
"""
import torch
from mmengine import dist as mmengine_dist
from mmengine.registry import MODELS

from ..checks.scalars import check_int
from ..class_factors import ClassFactors
from ..focal_loss import SoftmaxFocalLoss, focal_loss_with_options, unexpected_arguments_message
from ..options import OPTION_NAMES, REDUCTIONS, LossOptions
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
    time, with the background weight at ``background_class`` (see ``alpha_specs.alpha_from_spec``).

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
    - Called by an mmdet head (with ``avg_factor``) with ``mean_positive`` or an ``alpha``, whose
      meaning depends on which label is the background, ``background_class`` must be the head's:
      mmdet's stock heads (RetinaHead, the RoI bbox heads, ...) put it LAST (label ``num_classes``);
      a head that puts it first (``SoftmaxRetinaHead``) sets ``labels_background_first = True`` on
      its loss. Any other pairing raises at the first forward, naming both fixes: a stock head with
      ``background_class=0`` would train class 0 as the background and the background as a class.
    """

    labels_background_first = False  # set by heads whose labels put the background at 0

    def __init__(self, alpha=None, *, loss_weight: float = 1.0, use_sigmoid: bool = False,
                 loss_name: str = "loss_focal", **options):
        if use_sigmoid:
            raise ValueError("SoftmaxFocalLoss is a softmax loss: use_sigmoid must be False, got True "
                             "(use mmdet's FocalLoss for sigmoid classification)")
        if not isinstance(loss_name, str) or not loss_name.startswith("loss_"):
            raise ValueError(f"loss_name must be a str starting with 'loss_', got {loss_name!r}")
        unknown = set(options) - set(OPTION_NAMES) - {"compile"}
        if unknown:
            raise TypeError(
                f"{unexpected_arguments_message('SoftmaxFocalLoss', unknown)}. It takes alpha, loss_weight, "
                f"use_sigmoid, loss_name, compile and {', '.join(OPTION_NAMES)}. Keys like these usually come from a "
                "base config's loss merged into yours (mmengine merges dicts): add _delete_=True to your loss dict "
                "to replace it")
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
        if avg_factor is not None:  # an mmdet head's call
            self._check_head_classes(cls_score, reduction)
        local_mean = avg_factor is not None and reduction == "mean"
        options = self.options.replace(reduction="sum" if local_mean else reduction, ignore_index=ignore_index,
                                       gather_distributed=False if local_mean else self.gather_distributed)
        loss = focal_loss_with_options(cls_score, label, options=options, factors=ClassFactors(self.alpha),
                                       weight=weight, weight_zero_ignores=True, targets_name="label",
                                       all_reduce=mmengine_all_reduce)
        if local_mean:
            loss = loss / (avg_factor + torch.finfo(torch.float32).eps)
        return self.loss_weight * loss


    def _check_head_classes(self, cls_score, reduction):
        """alpha's length against the head's columns; where it matters (``mean_positive``, alpha), the
        background where the head's labels put it: at 0 (``labels_background_first``) or last."""
        if cls_score.dim() != 2:
            return
        num_classes = cls_score.shape[1] - 1  # foreground classes; the background is one more column
        if self.alpha is not None and self.alpha.numel() != num_classes + 1:
            raise ValueError(f"SoftmaxFocalLoss has alpha with {self.alpha.numel()} entries; this head has "
                             f"num_classes={num_classes} plus the background = {num_classes + 1} columns")
        expected = 0 if self.labels_background_first else num_classes
        if self.background_class == expected or (reduction != "mean_positive" and self.alpha is None):
            return
        if self.labels_background_first:
            raise ValueError(f"SoftmaxFocalLoss(background_class={self.background_class}) is called by a head whose "
                             "labels put the background FIRST (label 0): set background_class=0")
        raise ValueError(
            f"SoftmaxFocalLoss(background_class={self.background_class}) is called by an mmdet head whose labels put "
            f"the background LAST (label {num_classes} of {num_classes + 1} columns: the stock heads, e.g. RetinaHead, "
            f"Shared2FCBBoxHead); it would train class {self.background_class} as the background and the background "
            f"as a class. Use type='SoftmaxRetinaHead' (background first, with background_class=0), or "
            f"background_class={num_classes} (num_classes) with alpha's background weight last")


def mmengine_all_reduce(tensor):
    """The global statistics summed over ranks in place by ``mmengine.dist.all_reduce`` (looked up
    at each call)."""
    mmengine_dist.all_reduce(tensor)


MMDetSoftmaxFocalLoss = OpenMMLabSoftmaxFocalLoss  # its name before mmseg used it too; kept importable
