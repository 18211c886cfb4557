"""OpenMMLab loss protocol -> core loss. No math of its own; needs only mmengine.

Registered in mmengine's root ``MODELS``, so every OpenMMLab codebase (mmdet, mmseg, mmpretrain,
...) finds ``type='SoftmaxFocalLoss'`` through its parent registry. Under DDP the global
statistics travel through ``mmengine.dist`` (one all-reduce of two float64 numbers per call).
"""
from typing import Optional

import torch
from mmengine import dist as mmengine_dist
from mmengine.registry import MODELS

from ..adjustments import logit_adjustment_offsets
from ..distributed import Communicator
from ..focal_loss import SoftmaxFocalLoss, focal_loss_with_options
from ..options import OPTION_NAMES, REDUCTIONS, check_int
from .annotations import alpha_from_spec, counts_from_spec

MMENGINE = Communicator(is_distributed=lambda: mmengine_dist.get_world_size() > 1,
                        world_size=lambda: mmengine_dist.get_world_size(),
                        all_reduce_sum=lambda tensor: mmengine_dist.all_reduce(tensor, op="sum"))


@MODELS.register_module(name="SoftmaxFocalLoss")
class OpenMMLabSoftmaxFocalLoss(SoftmaxFocalLoss):
    """``SoftmaxFocalLoss`` for OpenMMLab configs: ``loss_cls=dict(type='SoftmaxFocalLoss', ...)``.

    Takes every core argument as a keyword (with the core's defaults, ``LossOptions``) plus
    ``loss_weight``, ``use_sigmoid`` (mmdet heads read it to size the classifier; only False makes
    sense for a softmax loss) and ``loss_name`` (mmseg's key for the loss in the log, must start
    with ``loss_``). ``alpha`` may also be
    ``dict(type='class_balanced', ann_file=..., beta=..., mean=..., background_weight=...,
    classes=...)``: class-balanced factors computed from the training annotation file at build
    time, with the background weight at ``background_class`` (see ``annotations.alpha_from_spec``).
    ``class_counts`` may be ``dict(type='class_counts', ann_file=..., classes=..., count=...)`` (the
    file's K classes, 0 at ``background_class``) or ``dict(type='class_counts', seg_map_dir=...,
    num_classes=..., count='pixels', ...)``; ``logit_offsets`` may be
    ``dict(type='logit_adjustment', tau=..., <the same counts keys>)``: ``logit_adjustment_offsets``
    of those counts, the background exempt where the counts come from an annotation file.

    ``objectness_split=True`` with ``num_classes=K`` is Seesaw's classifier layout (mmdet's
    custom-channels protocol: ``get_cls_channels``, ``get_activation``, ``get_accuracy``): K + 2
    outputs, the loss on the K class logits over the positives (labels < K) with every option of the
    loss (alpha, counts, offsets over K classes), plus the loss on the objectness pair (object,
    background) over every sample with gamma and the reduction only; it returns
    ``dict(loss_cls_classes=..., loss_cls_objectness=...)``. With ``mean_positive`` both are divided
    by the (global) number of positives; with ``mean`` and ``avg_factor`` both by ``avg_factor``.

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

    def __init__(self, alpha=None, *, gamma: float = 2.0, reduction: str = "mean", label_smoothing: float = 0.0,
                 ignore_index: int = -100, background_class: int = 0, gather_distributed: Optional[bool] = None,
                 backend: str = "auto", compile: bool = False, sync_checks: bool = False, logit_offsets=None,
                 seesaw_p: float = 0.0, seesaw_q: float = 0.0, class_counts=None, accumulate_counts: bool = False,
                 loss_weight: float = 1.0, use_sigmoid: bool = False, loss_name: str = "loss_focal",
                 objectness_split: bool = False, num_classes: Optional[int] = None, **unknown):
        if use_sigmoid:
            raise ValueError("SoftmaxFocalLoss is a softmax loss: use_sigmoid must be False, got True "
                             "(use mmdet's FocalLoss for sigmoid classification)")
        if not isinstance(loss_name, str) or not loss_name.startswith("loss_"):
            raise ValueError(f"loss_name must be a str starting with 'loss_', got {loss_name!r}")
        if unknown:
            raise TypeError(f"SoftmaxFocalLoss got unexpected arguments {sorted(unknown)}; it takes alpha, "
                            f"loss_weight, use_sigmoid, loss_name, compile, logit_offsets, class_counts, "
                            f"accumulate_counts, objectness_split, num_classes and {', '.join(OPTION_NAMES)}")
        if objectness_split is not False and objectness_split is not True:
            raise TypeError(f"objectness_split must be True or False, got {objectness_split!r}")
        if objectness_split and (num_classes is None or check_int("num_classes", num_classes) < 1):
            raise ValueError(f"objectness_split=True needs num_classes (the K foreground classes), got {num_classes!r}")
        # The class term of the split has no background column: counts and offsets cover K classes.
        background = None if objectness_split else background_class
        if isinstance(alpha, dict):
            alpha = alpha_from_spec(alpha, background_class)
        if isinstance(class_counts, dict):
            _check_spec_type("class_counts", class_counts, "class_counts")
            class_counts, _ = counts_from_spec(class_counts, background, "class_counts")
        if isinstance(logit_offsets, dict):
            _check_spec_type("logit_offsets", logit_offsets, "logit_adjustment")
            counts, has_background = counts_from_spec(logit_offsets, background, "logit_offsets")
            logit_offsets = logit_adjustment_offsets(counts, logit_offsets.get("tau", 1.0),
                                                     background_class=background if has_background else None)
        super().__init__(alpha=alpha, gamma=gamma, reduction=reduction, label_smoothing=label_smoothing,
                         ignore_index=ignore_index, background_class=background_class,
                         gather_distributed=gather_distributed, backend=backend, compile=compile,
                         sync_checks=sync_checks, logit_offsets=logit_offsets, seesaw_p=seesaw_p, seesaw_q=seesaw_q,
                         class_counts=class_counts, accumulate_counts=accumulate_counts)
        self.use_sigmoid = False
        self.loss_weight = float(loss_weight)
        self._loss_name = loss_name
        self.objectness_split = objectness_split
        self.num_classes = num_classes
        # mmdet's BBoxHead asks the loss for its output layout, activation and accuracy through these
        self.custom_cls_channels = self.custom_activation = self.custom_accuracy = objectness_split

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
        if self.objectness_split:
            return self._split_losses(cls_score, label, weight, avg_factor, reduction, ignore_index)
        return self.loss_weight * self._loss(cls_score, label, weight, avg_factor, reduction, ignore_index=ignore_index)

    def _loss(self, cls_score, label, weight, avg_factor, reduction, adjusted=True, **changes):
        """One term: ``mean`` with ``avg_factor`` is this rank's sum / avg_factor (mmdet's rule)."""
        local_mean = avg_factor is not None and reduction == "mean"
        options = self.options.replace(reduction="sum" if local_mean else reduction,
                                       gather_distributed=False if local_mean else self.gather_distributed, **changes)
        terms = self._adjustments() if adjusted else {}
        loss = focal_loss_with_options(cls_score, label, options=options, alpha=self.alpha if adjusted else None,
                                       weight=weight, communicator=MMENGINE, weight_zero_ignores=True,
                                       targets_name="label", **terms)
        if local_mean:
            loss = loss / (avg_factor + torch.finfo(torch.float32).eps)
        return loss

    def _split_losses(self, cls_score, label, weight, avg_factor, reduction, ignore_index):
        """Seesaw's layout: the class term on the K class logits over the positives, the objectness
        term (object 0, background 1) on the last two over every sample."""
        classes, objectness = self._split(cls_score)
        num_classes = self.num_classes
        valid = label != ignore_index
        positive = valid & (label >= 0) & (label < num_classes)
        ignored = torch.full_like(label, ignore_index)
        object_label = torch.where(valid, (label == num_classes).long(), ignored)
        # mean_positive: both terms over the positives; the class term's valid positions are exactly those
        loss_objectness = self._loss(objectness, object_label, weight, avg_factor, reduction, adjusted=False,
                                     ignore_index=ignore_index, background_class=1, seesaw_p=0.0, seesaw_q=0.0)
        loss_classes = self._loss(classes, torch.where(positive, label, ignored), weight, avg_factor,
                                  "mean" if reduction == "mean_positive" else reduction, ignore_index=ignore_index,
                                  background_class=-1)
        return dict(loss_cls_classes=self.loss_weight * loss_classes,
                    loss_cls_objectness=self.loss_weight * loss_objectness)

    def _split(self, cls_score):
        if cls_score.shape[-1] != self.num_classes + 2:
            raise ValueError(f"objectness_split needs cls_score with num_classes + 2 = {self.num_classes + 2} "
                             f"columns, got shape {tuple(cls_score.shape)}")
        return cls_score[..., :-2], cls_score[..., -2:]

    def get_cls_channels(self, num_classes):
        """The classifier's outputs for ``num_classes`` foreground classes (mmdet's custom channels)."""
        if num_classes != self.num_classes:
            raise ValueError(f"the head has num_classes={num_classes}, the loss num_classes={self.num_classes}")
        return num_classes + 2

    def get_activation(self, cls_score):
        """Scores (N, K + 1) as mmdet's BBoxHead expects them, background last: softmax over the
        classes times p(object), then p(background)."""
        classes, objectness = self._split(cls_score)
        object_probability = objectness.softmax(-1)
        return torch.cat([classes.softmax(-1) * object_probability[..., :1], object_probability[..., 1:]], dim=-1)

    def get_accuracy(self, cls_score, labels):
        """Top-1 accuracy (percent) of the objectness pair over every sample and of the classes over
        the positives (0 without positives), as mmdet's SeesawLoss reports them."""
        classes, objectness = self._split(cls_score)
        positive = labels < self.num_classes

        def accuracy(scores, target):  # shaped as mmdet's accuracy(): (1,), or 0-d without samples
            if target.numel() == 0:
                return scores.new_zeros(())
            return (scores.argmax(-1) == target).float().mean().reshape(1) * 100
        return dict(acc_objectness=accuracy(objectness, (labels == self.num_classes).long()),
                    acc_classes=accuracy(classes[positive], labels[positive]))


def _check_spec_type(name, spec, expected):
    if spec.get("type", expected) != expected:
        raise ValueError(f"{name} as a dict must have type={expected!r}, got {spec.get('type')!r}")


MMDetSoftmaxFocalLoss = OpenMMLabSoftmaxFocalLoss  # its name before mmseg used it too; kept importable
