"""Softmax focal loss: the API. A call is validated (types and shapes), applied with its
``LossOptions`` (the operator of ``loss_op.py``: value checks, backend, math) and reduced.

For logits ``x`` with classes on dim 1 and a valid target ``y`` (``y != ignore_index``)::

    log p   = log_softmax(x)                                  (at least float32)
    p_t     = exp(log p[y])                                   (unsmoothed target probability)
    ce      = -(1 - eps) * log p[y] - (eps / C) * sum_c log p[c]
    loss    = alpha[y] * (1 - p_t) ** gamma * ce

Ignored positions contribute 0 loss and 0 gradient. The per-position math and its one-pass
gradient live in ``kernels`` (``kernels/eager.py`` writes the formulas once; the compile and
Triton backends run the same formulas); the options and their defaults are ``options.py``'s.
"""
from typing import Optional

import torch
from torch import Tensor, nn

from . import distributed, loss_op
from .checks.scalars import check_int  # noqa: F401 - still importable from here (it was re-exported)
from .class_factors import NO_FACTORS, ClassFactors
from .kernels.interface import Counts
from .options import OPTION_NAMES, REDUCTIONS, LossOptions

__all__ = ["ClassFactors", "LossOptions", "REDUCTIONS", "SoftmaxFocalLoss", "focal_loss_with_options",
           "softmax_focal_loss"]


def _check_inputs(inputs, targets, factors, options):
    """Types and shapes: no host sync."""
    if not isinstance(inputs, Tensor) or not isinstance(targets, Tensor):
        raise TypeError(f"inputs and targets must be tensors, got {type(inputs).__name__} and "
                        f"{type(targets).__name__}")
    if not inputs.is_floating_point():
        raise TypeError(f"inputs must be floating-point logits, got dtype {inputs.dtype}")
    if targets.is_floating_point() or targets.is_complex() or targets.dtype == torch.bool:
        raise TypeError(f"targets must be integer class indices, got dtype {targets.dtype}")
    if inputs.dim() < 2:
        raise ValueError(f"inputs must have shape (N, C) or (N, C, d1, ..., dk), got {tuple(inputs.shape)}")
    expected = inputs.shape[:1] + inputs.shape[2:]
    if targets.shape != expected:
        raise ValueError(f"targets must have shape {tuple(expected)} for inputs of shape "
                         f"{tuple(inputs.shape)}, got {tuple(targets.shape)}")
    num_classes = inputs.shape[1]
    if num_classes < 1:
        raise ValueError(f"inputs must have at least one class on dim 1, got shape {tuple(inputs.shape)}")
    if targets.device != inputs.device:
        raise ValueError(f"targets are on {targets.device} but inputs on {inputs.device}")
    factors.check_classes(num_classes)
    if options.reduction == "mean_positive" and not 0 <= options.background_class < num_classes:
        raise ValueError(f"background_class must be in [0, {num_classes}) with reduction='mean_positive', "
                         f"got {options.background_class}")


def _check_weight(weight, targets, targets_name="targets"):
    if weight is not None and (not isinstance(weight, Tensor) or weight.shape != targets.shape):
        found = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a tensor shaped like {targets_name} {tuple(targets.shape)}, got {found}")


def _validated_targets(inputs, targets, factors, weight, options, weight_zero_ignores, targets_name):
    """Types and shapes (no host sync); the targets with zero-weight positions ignored where asked."""
    _check_inputs(inputs, targets, factors, options)
    _check_weight(weight, targets, targets_name)
    if weight_zero_ignores and weight is not None:
        targets = targets.masked_fill(weight == 0, options.ignore_index)
    return targets


def _reduce(loss, counts, options, all_reduce=None):
    """The reduction of the summed loss by its count (global where ``gather_distributed`` says so,
    summed over ranks by ``all_reduce``: ``distributed.global_reduce``)."""
    reduction = options.reduction
    if reduction == "none":
        result = loss
    else:
        count = None if reduction == "sum" else counts[Counts.VALID if reduction == "mean" else Counts.POSITIVE]
        if distributed.should_gather(options.gather_distributed):
            result = distributed.global_reduce(loss, count, all_reduce)
        else:
            result = loss if count is None else loss / count.clamp_min(1)
    if torch.is_grad_enabled() and not result.requires_grad:
        # Training code calls loss.backward() even on plain tensors (the quick examples in the
        # README do): give it a leaf to run on. Backward then reaches nothing, as no input needs
        # a gradient.
        result = result.detach().requires_grad_()
    return result


def focal_loss_with_options(inputs, targets, *, options, factors=NO_FACTORS, weight=None, weight_zero_ignores=False,
                            targets_name="targets", all_reduce=None):
    """The loss for adapters (the OpenMMLab one): validate, apply, reduce.

    ``options`` a ``LossOptions``; ``factors`` a ``ClassFactors`` (alpha; its values checked inside
    unless ``factors.checked``); ``weight_zero_ignores``:
    positions with weight 0 count as ignored (OpenMMLab's convention), not only as zero loss;
    ``targets_name`` names the targets in error messages; ``all_reduce`` sums the global statistics
    over ranks in place (None: ``torch.distributed.all_reduce``; the OpenMMLab adapter's is
    mmengine's)."""
    targets = _validated_targets(inputs, targets, factors, weight, options, weight_zero_ignores, targets_name)
    # The backend, the value checks and the math run inside one operator (loss_op.py)
    loss, counts = loss_op.loss_and_counts(inputs, targets, factors, weight, options)
    return _reduce(loss, counts, options, all_reduce)


# The signatures below write LossOptions' defaults as literals, so that editors and the API
# reference show the values; tests/core/test_options.py keeps them equal to LossOptions'.
def softmax_focal_loss(inputs: Tensor, targets: Tensor, alpha=None, gamma: float = 2.0,
                       reduction: str = "mean", label_smoothing: float = 0.0,
                       ignore_index: int = -100, background_class: int = 0,
                       gather_distributed: Optional[bool] = None, weight: Optional[Tensor] = None,
                       backend: str = "auto", compile: bool = False, sync_checks: bool = False) -> Tensor:
    """Multiclass softmax focal loss.

    At every position whose target ``y`` is not ``ignore_index``, with ``eps = label_smoothing``::

        log p  = log_softmax(x)                     (over dim 1, at least float32)
        p_t    = exp(log p[y])                      (unsmoothed)
        ce     = -(1 - eps) * log p[y] - (eps / C) * sum_c log p[c]
        loss_i = alpha[y] * (1 - p_t) ** gamma * ce

    Ignored positions have loss 0 and gradient 0; the reductions are below.

    Args:
        inputs (Tensor): raw logits of shape (N, C) or (N, C, d1, ..., dk), any floating dtype
            (float16/bfloat16 are computed in float32 and give a float32 loss).
        targets (Tensor): integer labels of shape (N,) or (N, d1, ..., dk) in [0, C) or ``ignore_index``.
        alpha (Tensor | list[float] | None): per-class factors of shape (C,) (tensor or list), or None for no weighting.
        gamma (float): focusing exponent >= 0; 0 gives cross-entropy.
        reduction (str): 'none' | 'sum' | 'mean' (sum / number of valid positions) |
            'mean_positive' (sum over all valid positions / number of valid positions whose
            target is not ``background_class``). Denominators are clamped to at least 1.
        label_smoothing (float): epsilon in [0, 1] as in ``F.cross_entropy``; it smooths the
            cross-entropy term only, the focal factor uses the unsmoothed p_t.
        ignore_index (int): target value whose positions get zero loss and zero gradient.
        background_class (int): class excluded from the 'mean_positive' denominator.
        gather_distributed (bool | None): normalise by global statistics across torch.distributed ranks
            (see ``imbalanced_losses.distributed``). None: on when a process group with more
            than one rank is initialised; False: never.
        weight (Tensor | None): optional non-negative per-position factors shaped like ``targets``; they scale
            loss_i but do not change the counts in the denominators.
        backend (str): 'auto' (the Triton kernels for CUDA tensors of float32/float16/bfloat16 on a
            GPU that a committed verification record covers, otherwise eager, with one warning
            on CUDA), 'eager' (tensor operations), 'compile' (the eager formulas as two
            ``torch.compile`` kernels: faster and leaner after a first-call compile of some
            seconds; where compilation fails it warns once and computes eagerly) or 'triton'
            (the kernels wherever they run; raises where they cannot: no CUDA, float64, no
            Triton >= 3.6). Every backend computes the same formulas.
        compile (bool): True is the older spelling of ``backend='compile'``.
        sync_checks (bool): on CUDA, check the target values (and alpha passed here as a CUDA tensor)
            before computing, at the cost of a host sync. By default the check runs on the device:
            a bad target is computed as ignored and the ValueError naming it is raised by the
            next call on that device (or by ``imbalanced_losses.raise_deferred_errors()``).
            On CPU the check is always immediate.

    Returns:
        Tensor: the reduced loss (0-d) or, for 'none', per-position losses shaped like ``targets``.

    The defaults are ``LossOptions``'s.
    """
    options = _options_from(locals())
    # A tensor's values are checked inside the loss's operator, as the targets are (loss_op.py).
    factors = ClassFactors.from_arguments(alpha)
    return focal_loss_with_options(inputs, targets, options=options, factors=factors, weight=weight)


# Names other losses use for what ours calls alpha (per-class factors).
CLASS_WEIGHT_HABITS = ("weight", "class_weight")


def unexpected_arguments_message(callee, unexpected):
    """The TypeError text for keyword arguments ``callee`` does not take, pointing ``weight`` and
    ``class_weight`` (nn.CrossEntropyLoss's and mmseg's per-class factors) to ``alpha``."""
    names = sorted(unexpected)
    message = f"{callee} got unexpected keyword arguments {names}"
    habits = [name for name in names if name in CLASS_WEIGHT_HABITS]
    if habits:
        message += (f"; per-class factors are alpha=[...] here ({' and '.join(habits)} is another loss's name for "
                    "them); per-position factors go to forward(inputs, targets, weight=...)")
    return message


def _options_from(arguments):
    """The ``LossOptions`` of a public signature's arguments (its ``locals()``), by field name."""
    return LossOptions.from_arguments(arguments["compile"], **{name: arguments[name] for name in OPTION_NAMES})


def _option(name):
    """A module attribute backed by its ``LossOptions``: setting it checks the new value as the
    constructor does (``loss.gamma = -1`` raises instead of computing a NaN later)."""
    def get(self):
        return getattr(self._loss_options, name)

    def set(self, value):
        self._loss_options = self._loss_options.replace(**{name: value})
    return property(get, set, doc=f"``{name}`` (checked when set)")


class SoftmaxFocalLoss(nn.Module):
    """Softmax focal loss for mutually exclusive classes (the module form of ``softmax_focal_loss``).

    Args:
        alpha (Tensor | list[float] | None): per-class factors of shape (C,); kept as a buffer,
            so ``.to(device)`` and ``state_dict()`` carry it. None: no weighting.
        gamma (float): focusing exponent >= 0; 0 gives cross-entropy.
        reduction (str): 'none' | 'sum' | 'mean' | 'mean_positive'.
        label_smoothing (float): epsilon in [0, 1]; smooths the cross-entropy term, not p_t.
        ignore_index (int): target value with zero loss and zero gradient.
        background_class (int): class left out of the 'mean_positive' denominator.
        gather_distributed (bool | None): global statistics across torch.distributed ranks;
            None: when a process group of more than one rank exists.
        backend (str): 'auto' | 'eager' | 'compile' | 'triton'.
        compile (bool): True is the older spelling of ``backend='compile'``.
        sync_checks (bool): check targets before computing on CUDA too (a host sync per call).

    The defaults are ``LossOptions``'s; see ``softmax_focal_loss`` for the exact semantics of
    every argument. The options are kept as one ``LossOptions`` (``options``); each is also an
    attribute, and setting one (``loss.gamma = 3``) checks the new value as the constructor does.
    """

    def __init__(self, alpha=None, gamma: float = 2.0, reduction: str = "mean",
                 label_smoothing: float = 0.0, ignore_index: int = -100,
                 background_class: int = 0,
                 gather_distributed: Optional[bool] = None, backend: str = "auto",
                 compile: bool = False, sync_checks: bool = False, **unexpected):
        if unexpected:
            raise TypeError(unexpected_arguments_message("SoftmaxFocalLoss()", unexpected))
        options = _options_from(locals())
        super().__init__()
        self._loss_options = options
        alpha = ClassFactors.from_arguments(alpha, check_now=True).alpha  # checked once, here
        self.register_buffer("alpha", None if alpha is None else alpha.clone())

    @property
    def options(self) -> LossOptions:
        """The checked options, frozen (set an attribute, or build a new module, to change one)."""
        return self._loss_options

    def forward(self, inputs: Tensor, targets: Tensor, weight: Optional[Tensor] = None) -> Tensor:
        """The loss of ``inputs`` against ``targets``.

        Args:
            inputs (Tensor): logits of shape (N, C) or (N, C, d1, ..., dk), any floating dtype.
            targets (Tensor): integer labels of shape (N,) or (N, d1, ..., dk).
            weight (Tensor | None): non-negative factors shaped like ``targets`` that scale each
                position's loss (not the counts of the denominators).

        Returns:
            Tensor: the reduced loss (0-d, float32 at least) or, for 'none', per-position losses.
        """
        # Options and alpha were checked once, at construction.
        return focal_loss_with_options(inputs, targets, options=self._loss_options, factors=ClassFactors(self.alpha),
                                       weight=weight)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={value!r}" for name, value in zip(OPTION_NAMES, self._loss_options.values()))


# The options as attributes, checked once at construction and checked again when one is set.
for _name in OPTION_NAMES:
    setattr(SoftmaxFocalLoss, _name, _option(_name))
del _name
