"""The eager backend: the loss's formulas written once, as plain tensor functions.

``focal_rows`` (forward: loss and the backward's per-position coefficients) and ``focal_grad``
(the gradient in one pass) are the math of the library; the ``compile`` backend runs these same
two functions through ``torch.compile`` and the Triton kernels transcribe them line by line.
"""
import operator
from typing import NamedTuple

import torch
from torch import Tensor

from ..options import LossOptions
from .interface import ForwardResult

# The options ``focal_rows`` reads as scalars, in its parameter order (after logits, index, weight):
# the eager backend passes their values, the compile backend the same values as 0-d tensors.
FORMULA_SCALARS = ("gamma", "label_smoothing")
_formula_scalars = operator.attrgetter(*FORMULA_SCALARS)  # their values, one tuple (for two names or more)


def _is_python_zero(value):
    return not isinstance(value, torch.Tensor) and value == 0


def focal_rows(logits, index, weight, gamma, eps, with_grad):
    """Forward over the class dim (1) at every position: the loss and, ``with_grad``, what the
    backward needs.

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


def focal_grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss, smoothing=True):
    """The gradient with respect to the logits in one pass (coefficients from ``focal_rows``;
    without ``smoothing`` coef_const is zero and not added)."""
    # In compute dtype (row_max is at least float32), one new N x C buffer, updated in place.
    grad = torch.sub(logits, row_max.unsqueeze(1)).exp_().mul_((grad_loss * coef_p).unsqueeze(1))
    if smoothing and coef_const is not None:
        grad.add_((grad_loss * coef_const).unsqueeze(1))
    grad.scatter_(1, index.unsqueeze(1), (grad_loss * coef_target).unsqueeze(1))
    return grad.to(logits.dtype)


def target_index(targets, num_classes, ignore_index):
    """Valid mask and gather index (the target, 0 where not valid)."""
    valid = (targets != ignore_index) & (targets >= 0) & (targets < num_classes)
    return valid, torch.where(valid, targets, 0).long()


def prepare(logits, targets, factors, weight, ignore_index):
    """Valid mask, gather index and per-position factor (valid * alpha[y] * weight); ``factors``
    a ``ClassFactors`` on the logits' device in the loss's dtype.

    Targets outside [0, C) that are not ignore_index count as ignored here: on CPU they were
    refused before, on CUDA they are reported by ``device_checks`` without a host sync.
    """
    valid, index = target_index(targets, logits.shape[1], ignore_index)
    compute_dtype = torch.promote_types(logits.dtype, torch.float32)
    position_weight = valid.to(compute_dtype)
    if factors.alpha is not None:
        position_weight = position_weight * factors.alpha[index]
    if weight is not None:
        position_weight = position_weight * weight.detach().to(compute_dtype)
    return valid, index, position_weight


def counts(valid, targets, background_class, dtype):
    """(number of valid positions, number of valid positions not of background_class): ``Counts``'s order."""
    return torch.stack([valid.sum(), (valid & (targets != background_class)).sum()]).to(dtype)


class EagerSaved(NamedTuple):
    """What the eager (and compile) backward reads besides the logits: four numbers per position,
    each tensor shaped like the targets, in the loss's dtype; the coefficients are 0 where the target is
    not valid."""
    row_max: Tensor
    coef_p: Tensor
    coef_const: Tensor  # zeros without label smoothing
    coef_target: Tensor

    def pack(self, shape):
        """One (4, *targets.shape) tensor (``shape``: the targets'), for a custom op to return."""
        return torch.stack(tuple(self)).view(len(self), *shape)

    @classmethod
    def unpack(cls, tensor):
        return cls(*tensor.unbind(0))


class EagerBackend:
    """The formulas as tensor operations; runs on every device and dtype."""
    name = "eager"
    checks_targets = False  # the bad-target flags are set by ``device_checks`` beside it
    Saved = EagerSaved

    @staticmethod
    def rows(logits, index, weight, scalars, with_grad):
        """``focal_rows`` with ``scalars``: the values of ``FORMULA_SCALARS``."""
        return focal_rows(logits, index, weight, *scalars, with_grad)

    @staticmethod
    def grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss, smoothing=True):
        return focal_grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss, smoothing)

    def not_supported_reasons(self, logits):
        return []

    def compute_forward(self, logits, targets, factors, weight, options: LossOptions, reduce,
                        with_grad) -> ForwardResult:
        valid, index, position_weight = prepare(logits, targets, factors, weight, options.ignore_index)
        scalars = _formula_scalars(options)
        loss, coefficients = self.rows(logits, index, position_weight, scalars, with_grad)
        count = None
        if reduce:
            count = counts(valid, targets, options.background_class, loss.dtype)
            loss = loss.sum()
        saved = None
        if coefficients is not None:
            row_max, coef_p, coef_const, coef_target = coefficients
            saved = EagerSaved(row_max, coef_p, torch.zeros_like(coef_p) if coef_const is None else coef_const,
                               coef_target)
        return ForwardResult(loss, count, saved)

    def compute_backward(self, logits, targets, saved: EagerSaved, grad_loss, options: LossOptions):
        # Every coefficient is 0 where the target is not valid, so any column index will do there.
        index = targets.clamp(0, logits.shape[1] - 1).long()
        if grad_loss.dim() == 0:  # a reduced loss: every position gets the same upstream gradient
            grad_loss = grad_loss.expand(index.shape)
        return self.grad(logits, index, *saved, grad_loss, smoothing=options.label_smoothing != 0)


BACKEND = EagerBackend()
