"""Softmax focal loss: the whole math of the library lives in this file.

For logits ``x`` with classes on dim 1 and a valid target ``y`` (``y != ignore_index``)::

    log p   = log_softmax(x)                                  (at least float32)
    p_t     = exp(log p[y])                                   (unsmoothed target probability)
    ce      = -(1 - eps) * log p[y] - (eps / C) * sum_c log p[c]
    loss    = alpha[y] * (1 - p_t) ** gamma * ce

Ignored positions contribute 0 loss and 0 gradient. The gradient is written in one pass as
``a * softmax(x) + c`` with the target column overwritten (see ``_focal_rows``), and nothing
of size N x C is kept between forward and backward beyond the logits themselves. The two
row-wise functions ``_focal_rows`` and ``_focal_grad`` are the math; ``compile=True`` runs the
same two functions as compiled kernels (``fused.py``).
"""
import numbers

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from . import distributed, fused

REDUCTIONS = ("none", "mean", "sum", "mean_positive")


def _check_options(gamma, reduction, label_smoothing, ignore_index, background_class, gather_distributed,
                   compile=False):
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise TypeError(f"gamma must be a real number >= 0, got {gamma!r} ({type(gamma).__name__})")
    if not gamma >= 0:  # also catches NaN
        raise ValueError(f"gamma must be >= 0, got {gamma!r}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real):
        raise TypeError(f"label_smoothing must be a real number in [0, 1], got {label_smoothing!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
    for name, value in (("ignore_index", ignore_index), ("background_class", background_class)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if gather_distributed is not None and not isinstance(gather_distributed, bool):
        raise TypeError(f"gather_distributed must be None, True or False, got {gather_distributed!r}")
    if not isinstance(compile, bool):
        raise TypeError(f"compile must be True or False, got {compile!r}")


def _as_alpha(alpha):
    """Validate per-class factors and return them as a float tensor of shape (C,)."""
    if isinstance(alpha, Tensor):
        if alpha.is_complex() or alpha.dtype == torch.bool:
            raise TypeError(f"alpha must be a real tensor, got dtype {alpha.dtype}")
        tensor = alpha.detach()
        if not tensor.is_floating_point():
            tensor = tensor.float()
    elif isinstance(alpha, (list, tuple)):
        try:
            tensor = torch.tensor(alpha, dtype=torch.float32)
        except (TypeError, ValueError) as error:
            raise TypeError(f"alpha must be a list of real numbers, got {alpha!r}") from error
    else:
        raise TypeError(f"alpha must be None, a 1-D tensor or a list of floats, got {type(alpha).__name__}")
    if tensor.dim() != 1:
        raise ValueError(f"alpha must be 1-D of shape (C,), got shape {tuple(tensor.shape)}")
    if tensor.numel() and not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"alpha must be finite, got {tensor.tolist()}")
    if tensor.numel() and bool((tensor < 0).any()):
        raise ValueError(f"alpha must be non-negative, got {tensor.tolist()}")
    return tensor


def _check_inputs(inputs, targets, alpha, reduction, ignore_index, background_class):
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
    if alpha is not None and alpha.shape != (num_classes,):
        raise ValueError(f"alpha must have shape ({num_classes},) to match inputs' C = {num_classes}, "
                         f"got {tuple(alpha.shape)}")
    if reduction == "mean_positive" and not 0 <= background_class < num_classes:
        raise ValueError(f"background_class must be in [0, {num_classes}) with reduction='mean_positive', "
                         f"got {background_class}")
    # One host sync; it buys a clear error instead of a wrong answer or a CUDA device assert.
    bad = ((targets < 0) | (targets >= num_classes)) & (targets != ignore_index)
    if bool(bad.any()):
        value = targets[bad].flatten()[0].item()
        raise ValueError(f"targets must be in [0, {num_classes}) or equal ignore_index={ignore_index}, "
                         f"got {value}")


def _check_weight(weight, targets, targets_name="targets"):
    if weight is not None and (not isinstance(weight, Tensor) or weight.shape != targets.shape):
        found = tuple(weight.shape) if isinstance(weight, Tensor) else type(weight).__name__
        raise ValueError(f"weight must be a tensor shaped like {targets_name} {tuple(targets.shape)}, got {found}")


def _is_python_zero(value):
    return not isinstance(value, Tensor) and value == 0


def _focal_rows(logits, index, weight, gamma, eps, with_grad):
    """Forward over the class dim (1) at every position: the loss and, ``with_grad``, what the
    backward needs. The formulas of the library, written once: the eager path calls this, and
    ``compile=True`` hands it to ``torch.compile``.

    ``gamma`` and ``eps`` are Python numbers (eager) or 0-d tensors (compiled, so that another
    value does not recompile); a Python 0 skips the work that it would multiply by zero.

    With f = (1 - p_t)^gamma, q = 1 - p_t and g = gamma * q^(gamma - 1) * p_t * ce, the gradient of
    loss_i = w * f * ce with respect to the logits is
        w * ((f + g) * p  -  (f * (1 - eps) + g) * onehot(y)  -  f * eps / C).
    Off the target column that is a * p + c; on it we write the algebraically simplified
        w * (f * eps * (1 - 1/C) - q * f - gamma * f * p_t * ce),
    which stays finite for 0 < gamma < 1 where g alone would overflow as p_t -> 1. Nothing of size
    N x C is kept: the backward recomputes p = exp(x - row_max) * exp(-log_norm) from the logits,
    with exp(-log_norm) folded into the coefficient a.
    """
    num_classes = logits.shape[1]
    compute_dtype = torch.promote_types(logits.dtype, torch.float32)
    log_p = torch.log_softmax(logits, dim=1, dtype=compute_dtype)
    log_p_t = log_p.gather(1, index.unsqueeze(1)).squeeze(1)
    smoothing = not _is_python_zero(eps)
    ce = -(1 - eps) * log_p_t - (eps / num_classes) * log_p.sum(1) if smoothing else -log_p_t
    q = -torch.expm1(log_p_t)  # 1 - p_t, accurate when p_t is close to 1
    focal = q.pow(gamma)  # 0 ** 0 == 1: gamma = 0 is plain cross-entropy
    weighted_focal = weight * focal
    loss = weighted_focal * ce
    if not with_grad:
        return loss, None
    row_max = logits.amax(1).to(compute_dtype)
    log_norm = -log_p.amax(1)  # log sum_c exp(x_c - row_max), exactly as log_softmax had it
    p_t = torch.exp(log_p_t)
    # gamma * q^(gamma-1) written as focal / q: where q == 0, focal == 0 (or gamma == 0) and so is g.
    g = 0.0 if _is_python_zero(gamma) else gamma * p_t * ce * focal / q.clamp_min(torch.finfo(compute_dtype).tiny)
    coef_p = weight * (focal + g) * torch.exp(-log_norm)
    coef_const = weighted_focal * (-eps / num_classes) if smoothing else None
    coef_target = weighted_focal * (eps * (1 - 1 / num_classes) - q - gamma * p_t * ce)
    return loss, (row_max, coef_p, coef_const, coef_target)


def _focal_grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss):
    """The gradient with respect to the logits in one pass (coefficients from ``_focal_rows``)."""
    # In compute dtype (row_max is at least float32), one new N x C buffer, updated in place.
    grad = torch.sub(logits, row_max.unsqueeze(1)).exp_().mul_((grad_loss * coef_p).unsqueeze(1))
    if coef_const is not None:
        grad.add_((grad_loss * coef_const).unsqueeze(1))
    grad.scatter_(1, index.unsqueeze(1), (grad_loss * coef_target).unsqueeze(1))
    return grad.to(logits.dtype)


class _FocalLossFunction(torch.autograd.Function):
    """Per-position focal loss with the single-pass backward of ``_focal_grad``; ``fused`` runs
    both halves as compiled kernels (see ``fused``)."""

    @staticmethod
    def forward(ctx, logits, index, weight, gamma, label_smoothing, use_fused):
        with_grad = ctx.needs_input_grad[0]
        kernels = fused.kernels_for(logits) if use_fused else None
        result = None if kernels is None else fused.forward(kernels, logits, index, weight, gamma, label_smoothing,
                                                            with_grad)
        if result is None:  # eager, also where compilation just failed
            kernels = None
            result = _focal_rows(logits, index, weight, gamma, label_smoothing, with_grad)
        loss, saved = result
        if with_grad:
            ctx.save_for_backward(logits, index, *saved)  # coef_const may be None (no smoothing)
            ctx.kernels = kernels
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        logits, index, row_max, coef_p, coef_const, coef_target = ctx.saved_tensors
        if ctx.kernels is None:
            grad = _focal_grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss)
        else:
            grad = fused.backward(ctx.kernels, logits, index, row_max, coef_p, coef_const, coef_target, grad_loss)
        return grad, None, None, None, None, None


def softmax_focal_loss(inputs, targets, alpha=None, gamma=2.0, reduction="mean", label_smoothing=0.0,
                       ignore_index=-100, background_class=0, gather_distributed=None, weight=None, compile=False):
    """Multiclass softmax focal loss (see the module docstring for the formula).

    Args:
        inputs: raw logits of shape (N, C) or (N, C, d1, ..., dk), any floating dtype
            (float16/bfloat16 are computed in float32 and give a float32 loss).
        targets: integer labels of shape (N,) or (N, d1, ..., dk) in [0, C) or ``ignore_index``.
        alpha: per-class factors of shape (C,) (tensor or list), or None for no weighting.
        gamma: focusing exponent >= 0; 0 gives cross-entropy.
        reduction: 'none' | 'sum' | 'mean' (sum / number of valid positions) |
            'mean_positive' (sum over all valid positions / number of valid positions whose
            target is not ``background_class``). Denominators are clamped to at least 1.
        label_smoothing: epsilon in [0, 1] as in ``F.cross_entropy``; it smooths the
            cross-entropy term only, the focal factor uses the unsmoothed p_t.
        ignore_index: target value whose positions get zero loss and zero gradient.
        background_class: class excluded from the 'mean_positive' denominator.
        gather_distributed: normalise by global statistics across torch.distributed ranks
            (see ``imbalanced_losses.distributed``). None: on when a process group with more
            than one rank is initialised; False: never.
        weight: optional non-negative per-position factors shaped like ``targets``; they scale
            loss_i but do not change the counts in the denominators.
        compile: compute forward and backward with two ``torch.compile`` kernels (the same
            formulas; see ``imbalanced_losses.fused``): faster and leaner, after a first-call
            compile of some seconds; falls back to eager, with one warning, where compilation
            is not available.

    Returns:
        The reduced loss (0-d) or, for 'none', per-position losses shaped like ``targets``.
    """
    _check_options(gamma, reduction, label_smoothing, ignore_index, background_class, gather_distributed, compile)
    if alpha is not None:
        alpha = _as_alpha(alpha).to(inputs.device if isinstance(inputs, Tensor) else None)
    return _softmax_focal_loss(inputs, targets, alpha, gamma, reduction, label_smoothing, ignore_index,
                               background_class, gather_distributed, weight, compile=compile)


def _softmax_focal_loss(inputs, targets, alpha, gamma, reduction, label_smoothing, ignore_index,
                        background_class, gather_distributed, weight=None, communicator=distributed.TORCH,
                        compile=False):
    """``softmax_focal_loss`` with options already checked and alpha a validated tensor or None."""
    _check_inputs(inputs, targets, alpha, reduction, ignore_index, background_class)
    _check_weight(weight, targets)

    valid = targets != ignore_index
    index = torch.where(valid, targets, 0).long()
    compute_dtype = torch.promote_types(inputs.dtype, torch.float32)
    position_weight = valid.to(compute_dtype)
    if alpha is not None:
        position_weight = position_weight * alpha.to(inputs.device, compute_dtype)[index]
    if weight is not None:
        position_weight = position_weight * weight.detach().to(compute_dtype)
    loss = _FocalLossFunction.apply(inputs, index, position_weight, float(gamma), float(label_smoothing), compile)

    if reduction == "none":
        result = loss
    else:
        total = loss.sum()
        if reduction == "sum":
            count = None
        elif reduction == "mean":
            count = valid.sum()
        else:
            count = (valid & (targets != background_class)).sum()
        if distributed.should_gather(gather_distributed, communicator):
            result = distributed.global_reduce(total, count, communicator)
        else:
            result = total if count is None else total / count.clamp_min(1).to(total.dtype)
    if torch.is_grad_enabled() and not result.requires_grad:
        # Training code calls loss.backward() even on plain tensors (the API page's quick examples
        # do): give it a leaf to run on. Backward then reaches nothing, as no input needs a gradient.
        result = result.detach().requires_grad_()
    return result


class SoftmaxFocalLoss(nn.Module):
    """Softmax focal loss for mutually exclusive classes; arguments as in ``softmax_focal_loss``.

    ``alpha`` is kept as a buffer, so ``.to(device)`` and ``state_dict()`` carry it.
    """

    def __init__(self, alpha=None, gamma=2.0, reduction="mean", label_smoothing=0.0, ignore_index=-100,
                 background_class=0, gather_distributed=None, compile=False):
        super().__init__()
        _check_options(gamma, reduction, label_smoothing, ignore_index, background_class, gather_distributed, compile)
        self.register_buffer("alpha", None if alpha is None else _as_alpha(alpha).clone())
        self.gamma = float(gamma)
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)
        self.ignore_index = int(ignore_index)
        self.background_class = int(background_class)
        self.gather_distributed = gather_distributed
        self.compile_kernels = compile  # not self.compile: that is nn.Module.compile()

    def forward(self, inputs: Tensor, targets: Tensor) -> Tensor:
        # Options and alpha were checked once, at construction.
        return _softmax_focal_loss(inputs, targets, self.alpha, self.gamma, self.reduction, self.label_smoothing,
                                   self.ignore_index, self.background_class, self.gather_distributed,
                                   compile=self.compile_kernels)

    def extra_repr(self) -> str:
        return (f"gamma={self.gamma}, reduction={self.reduction!r}, label_smoothing={self.label_smoothing}, "
                f"ignore_index={self.ignore_index}, background_class={self.background_class}, "
                f"gather_distributed={self.gather_distributed}" + (", compile=True" if self.compile_kernels else ""))
