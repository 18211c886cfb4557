"""Additive terms on the logits for long-tailed data, applied before the loss (training only).

Both are constants for the gradient (they depend on the targets, the class counts and the
detached logits), so the loss of ``x + offset`` has the gradient of the loss at ``x + offset``
with respect to ``x``: every backend computes them exactly, unchanged, on the adjusted logits.

**Logit adjustment** (Menon et al., ICLR 2021; Balanced Softmax, Ren et al., NeurIPS 2020):
train on ``x_j + b_j`` with ``b_j = tau * log(pi_j)``, predict with ``x``. Softmax ignores a shift of
every logit, but not a shift of the foreground logits against a background held at 0: with a
background class exempt (a detector's K + 1 softmax), ``b_j = tau * log(K * pi_j)`` over the K
foreground classes, so that a uniform foreground prior gives zero offsets and the
foreground/background balance stays where the head's own balance puts it
(``logit_adjustment_offsets``).

**Seesaw factors** (Wang et al., CVPR 2021; mmdet's ``seesaw_ce_loss``): for a position of class
``y``, every other class ``j`` gets ``x_j + log S_yj`` with ``S_yj = M_yj * C_yj``::

    M_yj = (N_j / N_y) ** p    where N_j < N_y, else 1     (mitigation: counts, clamped at >= 1)
    C_yj = (s_j / s_y) ** q    where s_j > s_y, else 1     (compensation: s = softmax(x) detached,
                                                            s_y clamped at >= SEESAW_EPS)

Positions of the background class and the background column are exempt (with a background
class in [0, C)); ``background_class`` outside [0, C) exempts nothing.
"""
import math

import torch
from torch import Tensor

from .validators import check_real

SEESAW_EPS = 1e-2  # mmdet's SeesawLoss default: the smallest s_y of the compensation ratio


def logit_adjustment_offsets(class_counts, tau=1.0, background_class=None) -> Tensor:
    """The offsets ``b`` (float32, shape (C,)) of logit adjustment from per-class counts.

    Args:
        class_counts (Sequence[float] | Tensor): per-class counts (C,) (training instances, or
            pixels), >= 0; a class with count 0 gets the count 1.
        tau (float): the temperature, >= 0 (0: all offsets 0).
        background_class (int | None): a class whose offset is 0 and whose count is left out of
            the prior, the others getting ``tau * log(K * pi_j)`` (K foreground classes); None: every
            class gets ``tau * log(C * pi_j)``.
    """
    counts = as_class_counts("class_counts", class_counts)
    tau = check_real("tau", tau, "a real number >= 0")
    if not tau >= 0 or math.isinf(tau):
        raise ValueError(f"tau must be a finite real number >= 0, got {tau!r}")
    num_classes = counts.numel()
    foreground = torch.ones(num_classes, dtype=torch.bool)
    if background_class is not None:
        if not isinstance(background_class, int) or not 0 <= background_class < num_classes:
            raise ValueError(f"background_class must be None or in [0, {num_classes}), got {background_class!r}")
        foreground[background_class] = False
    if not foreground.any():
        raise ValueError("class_counts must hold at least one class besides background_class")
    clamped = counts.double().clamp_min(1.0)
    prior = clamped / clamped[foreground].sum()
    offsets = torch.where(foreground, tau * torch.log(int(foreground.sum()) * prior), torch.zeros_like(prior))
    return offsets.float()


def per_class_values(name, values, dtype, nonnegative):
    """Per-class numbers (a 1-D tensor or a list) as a ``dtype`` tensor of shape (C,), every value
    finite (and >= 0 with ``nonnegative``); read on the host, errors naming ``name``."""
    if isinstance(values, Tensor):
        if not values.is_floating_point() and (values.is_complex() or values.dtype == torch.bool):
            raise TypeError(f"{name} must be a real tensor, got dtype {values.dtype}")
        tensor = values.detach().to(dtype)
    elif isinstance(values, (list, tuple)):
        try:
            tensor = torch.tensor(values, dtype=dtype)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a list of real numbers, got {values!r:.200}") from error
    else:
        raise TypeError(f"{name} must be None, a 1-D tensor or a list of numbers, got {type(values).__name__}")
    if tensor.dim() != 1 or tensor.numel() == 0:
        raise ValueError(f"{name} must be 1-D of shape (C,) with C >= 1, got shape {tuple(tensor.shape)}")
    bad = ~torch.isfinite(tensor) | ((tensor < 0) if nonnegative else torch.zeros_like(tensor, dtype=torch.bool))
    if bool(bad.any()):
        position = int(bad.nonzero()[0])
        expected = "finite numbers >= 0" if nonnegative else "finite numbers"
        raise ValueError(f"{name} must hold {expected}, got {tensor[position].item()!r} at class {position}")
    return tensor


def as_class_counts(name, values):
    """Non-negative finite per-class counts as a float64 tensor of shape (C,)."""
    return per_class_values(name, values, torch.float64, nonnegative=True)


def seesaw_offsets(logits, index, valid, class_counts, p, q, background_class) -> Tensor:
    """``log S_yj`` at every position and class (0 on the target column, at ignored positions and
    for the exempt background), in the logits' compute dtype, detached.

    ``index``: the target (0 where not valid), ``valid``: the valid positions, both shaped like
    the targets; ``class_counts``: (C,) counts (needed where ``p > 0``)."""
    num_classes = logits.shape[1]
    compute_dtype = torch.promote_types(logits.dtype, torch.float32)
    x = logits.detach()
    target = index.unsqueeze(1)
    class_axis = [1, num_classes] + [1] * (x.dim() - 2)  # a (C,) vector broadcast along dim 1
    offsets = torch.zeros(x.shape, dtype=compute_dtype, device=x.device) if p == 0 and q == 0 else None
    if p > 0:  # (each term in place on its own fresh tensor: a few passes over N x C)
        log_counts = torch.log(class_counts.to(x.device, compute_dtype).clamp_min(1.0))
        offsets = (log_counts.view(class_axis) - log_counts[index].unsqueeze(1)).clamp_max_(0.0).mul_(p)
    if q > 0:
        log_s = torch.log_softmax(x, dim=1, dtype=compute_dtype)
        log_s_y = log_s.gather(1, target).clamp_min_(math.log(SEESAW_EPS))
        compensation = log_s.sub_(log_s_y).clamp_min_(0.0).mul_(q)  # log(s_j / s_y) where s_j > s_y
        offsets = compensation if offsets is None else offsets.add_(compensation)
    column = torch.arange(num_classes, device=x.device).view(class_axis)
    keep = valid.unsqueeze(1) & (column != target)
    if 0 <= background_class < num_classes:
        keep = keep & (column != background_class) & (target != background_class)
    return offsets.masked_fill_(~keep, 0.0)


def count_classes(targets, num_classes, ignore_index) -> Tensor:
    """Per-class counts (float64, (C,)) of the valid targets, without a host sync."""
    valid = (targets != ignore_index) & (targets >= 0) & (targets < num_classes)
    index = torch.where(valid, targets, 0).long().flatten()
    return torch.zeros(num_classes, dtype=torch.float64, device=targets.device).scatter_add_(
        0, index, valid.flatten().double())
