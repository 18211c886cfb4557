"""The Triton backend: the eager formulas (``eager.focal_rows`` / ``eager.focal_grad``) as two
hand-written kernels, for CUDA tensors (and CPU tensors under ``TRITON_INTERPRET=1``).

Layout. Logits (N, C) or (N, C, d1..dk) are viewed without a copy as (B, C, S): positions are
(b, s) pairs, (N, C) becomes (1, C, N). One program handles BLOCK_S positions of one b and loops
over the classes in blocks of BLOCK_C (one iteration where a row fits), keeping an online
log-sum-exp, so C from 2 to beyond LVIS's 1204 needs no row-sized registers. The tile is
[BLOCK_S, BLOCK_C]; which of its axes is contiguous in memory (the classes for (N, C) and
channels-last, the positions for NCHW) is a compile-time flag, so either gives coalesced loads
without a transposing copy.

Forward kernel: per position the loss (or, for a reduced loss, per-program partial sums of the
loss and of the two counts), and for the backward four float32 numbers: log-sum-exp and the
coefficients a, c, t of the gradient ``a * softmax(x) + c`` with the target column ``t``.
Targets outside [0, C) that are not ``ignore_index`` count as ignored and are written to a device
flag (``device_checks``), as are negative or non-finite alpha values a valid target selects:
no host sync. The partial sums become (total, counts) in two torch reductions. Backward kernel:
the gradient in one pass, in the input dtype.

Compute is float32 (float64 input is refused: use the eager or compile backend); half inputs
are read as they are and the gradient written in their dtype.
"""
import contextlib
import math
import os
from typing import NamedTuple

import torch
import triton
import triton.language as tl
from torch import Tensor
from triton.language.extra import libdevice

from ..checks import device as device_checks
from ..options import LossOptions
from ..versions import version_prefix
from .interface import SAVED_PLANES, ForwardResult
from .triton_tiles import tile_for

INTERPRETED = os.environ.get("TRITON_INTERPRET", "0") == "1"  # Triton reads it when decorating
DTYPES = (torch.float32, torch.float16, torch.bfloat16)
MIN_TRITON = (3, 6)  # the lowest Triton the ahead-of-time check compiles with (tools/dev/triton_aot_check.py)
WIDE_OFFSETS_FROM = 2**31  # element offsets this large need int64 arithmetic in the kernels


def not_supported_reasons(logits):
    """Why this backend cannot run on these logits: an empty list where it can."""
    reasons = []
    if version_prefix(triton.__version__) < MIN_TRITON:
        reasons.append(f"Triton {triton.__version__} is installed; these kernels need Triton >= "
                       f"{'.'.join(map(str, MIN_TRITON))}")
    if logits.dtype not in DTYPES:
        reasons.append(f"it computes in float32 and takes float32, float16 or bfloat16 logits, got {logits.dtype} "
                       "(use backend='eager' or 'compile')")
    if logits.device.type != "cuda" and not INTERPRETED:
        reasons.append(f"logits are on {logits.device}: it needs CUDA tensors (or TRITON_INTERPRET=1 for Triton's "
                       "interpreter)")
    return reasons


# The device flags' slots, as compile-time constants of the kernels.
TARGET_SEEN = tl.constexpr(int(device_checks.Slot.TARGET_SEEN))
TARGET_VALUE = tl.constexpr(int(device_checks.Slot.TARGET_VALUE))
ALPHA_SEEN = tl.constexpr(int(device_checks.Slot.ALPHA_SEEN))
ALPHA_CLASS = tl.constexpr(int(device_checks.Slot.ALPHA_CLASS))

# The saved buffer's planes (TritonSaved: (4, B * S) float32, one value per position in each):
# the row's log-sum-exp and the gradient's coefficients a (of softmax), c (constant), t (target column).
LSE_PLANE = tl.constexpr(0)
COEF_P_PLANE = tl.constexpr(1)
COEF_CONST_PLANE = tl.constexpr(2)
COEF_TARGET_PLANE = tl.constexpr(3)
NUM_PLANES = SAVED_PLANES  # the saved buffer's planes: the contract's (interface.py)

# The per-program partial sums of a reduced loss: PARTIAL_SLOTS float32 per program, summed by
# torch into the total and the counts (``interface.Counts``: valid, positive; in this order).
LOSS_SLOT = tl.constexpr(0)
VALID_SLOT = tl.constexpr(1)
POSITIVE_SLOT = tl.constexpr(2)
PARTIAL_SLOTS = tl.constexpr(3)

# libdevice (CUDA's math library) where the kernels are compiled; Triton's interpreter has none.
LIBDEVICE = tl.constexpr(not INTERPRETED)

# float32's smallest normal number (what eager's finfo(compute dtype).tiny is in float32).
FLOAT32_TINY = tl.constexpr(torch.finfo(torch.float32).tiny)


@triton.jit
def _expm1(x):
    """exp(x) - 1 without cancellation near 0: libdevice's on a GPU (``tl.log`` near 1 is an
    approximation there); under the interpreter, which has no libdevice, Kahan's trick in numpy."""
    if LIBDEVICE:
        return libdevice.expm1(x)
    else:
        u = tl.exp(x)
        um1 = u - 1.0
        ratio = um1 * x / tl.log(u)
        return tl.where(u == 1.0, x, tl.where(um1 == -1.0, -1.0, ratio))


@triton.jit
def _row_pointers(b, s, stride_b, stride_s, POSITION_CONTIGUOUS: tl.constexpr, WIDE: tl.constexpr):
    """Element offset of each position's class 0; int64 only where the logits span 2**31 elements."""
    if WIDE:
        b = b.to(tl.int64)
        s = s.to(tl.int64)
    if POSITION_CONTIGUOUS:  # a literal 1 lets the compiler see the contiguity (and vectorise)
        offset = s
    else:
        offset = s * stride_s
    return b * stride_b + offset


@triton.jit
def _class_offsets(c, stride_c, CLASS_CONTIGUOUS: tl.constexpr, WIDE: tl.constexpr):
    if WIDE:
        c = c.to(tl.int64)
    if CLASS_CONTIGUOUS:
        offset = c
    else:
        offset = c * stride_c
    return offset


@triton.jit
def _plane_pointers(saved_ptr, position, P, PLANE: tl.constexpr, WIDE: tl.constexpr):
    """Pointers to ``position`` (int64) in plane PLANE of the saved (NUM_PLANES, P) buffer: the
    plane's start PLANE * P in int64 where the buffer reaches 2**31 elements (``_Launch`` sets
    WIDE for that too), computed once per program (a scalar) before the per-position offsets."""
    if WIDE:
        P = P.to(tl.int64)  # never a constexpr here: P == 1 is not WIDE
    return (saved_ptr + PLANE * P) + position


@triton.jit
def _program_positions(pid, S, stride_b, stride_s, stride_tb, stride_ts, targets_ptr, ignore_index,
                       POSITION_CONTIGUOUS: tl.constexpr, WIDE: tl.constexpr, BLOCK_S: tl.constexpr):
    """The prologue of both kernels: program ``pid``'s BLOCK_S positions (b, s) of one b, their mask,
    the offsets of their rows' class 0, their index into per-position buffers laid out (B, S), and
    their targets (int64; ``ignore_index`` past S)."""
    # tl.cdiv(S, BLOCK_S) adds BLOCK_S - 1 first, which wraps int32 where S > 2**31 - BLOCK_S (S >= 1 here).
    # s itself stays below 2**31 for S <= 2**31: BLOCK_S is a power of two, so no block straddles 2**31
    # (a larger S arrives as int64).
    num_s_blocks = (S - 1) // BLOCK_S + 1
    b = pid // num_s_blocks
    s = (pid % num_s_blocks) * BLOCK_S + tl.arange(0, BLOCK_S)
    s_mask = s < S
    rows = _row_pointers(b, s, stride_b, stride_s, POSITION_CONTIGUOUS, WIDE)
    position = b.to(tl.int64) * S + s
    t = tl.load(targets_ptr + b.to(tl.int64) * stride_tb + s.to(tl.int64) * stride_ts, mask=s_mask,
                other=ignore_index).to(tl.int64)  # targets of any integer dtype
    return b, s, s_mask, rows, position, t


@triton.jit
def focal_forward_kernel(
        logits_ptr, targets_ptr, alpha_ptr, weight_ptr, loss_ptr, partial_ptr, saved_ptr, flags_ptr,
        S, C, P, stride_b, stride_s, stride_c, stride_tb, stride_ts,
        gamma, eps, ignore_index, background_class,
        HAS_ALPHA: tl.constexpr, HAS_WEIGHT: tl.constexpr, SMOOTHING: tl.constexpr, WITH_GRAD: tl.constexpr,
        REDUCE: tl.constexpr, CLASS_CONTIGUOUS: tl.constexpr, POSITION_CONTIGUOUS: tl.constexpr,
        WIDE: tl.constexpr, BLOCK_S: tl.constexpr, BLOCK_C: tl.constexpr):
    pid = tl.program_id(0)
    b, s, s_mask, rows, position, t = _program_positions(
        pid, S, stride_b, stride_s, stride_tb, stride_ts, targets_ptr, ignore_index, POSITION_CONTIGUOUS, WIDE, BLOCK_S)

    # Targets outside [0, C) that are not ignore_index are flagged.
    in_range = (t >= 0) & (t < C)
    not_ignored = t != ignore_index
    valid = s_mask & in_range & not_ignored
    bad = s_mask & not_ignored & (~in_range)
    tl.store(flags_ptr + TARGET_SEEN + tl.zeros_like(t), 1, mask=bad)
    tl.store(flags_ptr + TARGET_VALUE + tl.zeros_like(t), t, mask=bad)
    t_safe = tl.where(valid, t, 0)

    # Online log-sum-exp over class blocks (one block where the row fits).
    m = tl.full([BLOCK_S], float("-inf"), tl.float32)
    total = tl.zeros([BLOCK_S], tl.float32)
    sum_x = tl.zeros([BLOCK_S], tl.float32)
    for c0 in range(0, C, BLOCK_C):
        c = c0 + tl.arange(0, BLOCK_C)
        mask = s_mask[:, None] & (c < C)[None, :]
        offsets = rows[:, None] + _class_offsets(c, stride_c, CLASS_CONTIGUOUS, WIDE)[None, :]
        x = tl.load(logits_ptr + offsets, mask=mask, other=float("-inf")).to(tl.float32)
        m_new = tl.maximum(m, tl.max(x, 1))
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows past S: keep exp() away from -inf - -inf
        total = total * tl.exp(m - shift) + tl.sum(tl.exp(x - shift[:, None]), 1)
        if SMOOTHING:
            sum_x += tl.sum(tl.where(mask, x, 0.0), 1)
        m = m_new
    lse = m + tl.log(total)

    x_t = tl.load(logits_ptr + rows + _class_offsets(t_safe, stride_c, CLASS_CONTIGUOUS, WIDE), mask=valid,
                  other=0.0).to(tl.float32)
    log_p_t = tl.where(valid, x_t - lse, 0.0)
    if SMOOTHING:
        ce = -(1.0 - eps) * log_p_t - (eps / C) * (sum_x - C * lse)  # sum_c log p_c = sum_x - C * lse
    else:
        ce = -log_p_t
    q = tl.maximum(-_expm1(log_p_t), 0.0)  # 1 - p_t, accurate when p_t is close to 1
    focal = tl.where(q > 0.0, tl.exp2(gamma * tl.log2(q)), tl.where(gamma == 0.0, 1.0, 0.0))  # q ** gamma

    w = valid.to(tl.float32)
    if HAS_ALPHA:
        a = tl.load(alpha_ptr + t_safe, mask=valid, other=0.0).to(tl.float32)
        bad_alpha = valid & ~((a >= 0.0) & (a < float("inf")))  # also NaN
        tl.store(flags_ptr + ALPHA_SEEN + tl.zeros_like(t), 1, mask=bad_alpha)
        tl.store(flags_ptr + ALPHA_CLASS + tl.zeros_like(t), t_safe, mask=bad_alpha)
        w = tl.where(bad_alpha, 0.0, w * a)
    if HAS_WEIGHT:
        w = w * tl.load(weight_ptr + position, mask=valid, other=0.0).to(tl.float32)
    weighted_focal = w * focal
    loss = tl.where(valid, weighted_focal * ce, 0.0)

    if REDUCE:
        partial = partial_ptr + PARTIAL_SLOTS * pid
        tl.store(partial + LOSS_SLOT, tl.sum(loss, 0))
        tl.store(partial + VALID_SLOT, tl.sum(valid.to(tl.float32), 0))
        tl.store(partial + POSITIVE_SLOT, tl.sum((valid & (t != background_class)).to(tl.float32), 0))
    else:
        tl.store(loss_ptr + position, loss, mask=s_mask)
    if WITH_GRAD:
        p_t = tl.exp(log_p_t)  # not 1 - q: that loses p_t's relative precision where p_t is tiny
        # gamma * q^(gamma-1) written as focal / q: where q == 0, focal == 0 (or gamma == 0) and so is g.
        g = gamma * p_t * ce * focal / tl.maximum(q, FLOAT32_TINY)
        coef_p = tl.where(valid, w * (focal + g), 0.0)
        coef_target = tl.where(valid, weighted_focal * (eps * (1.0 - 1.0 / C) - q - gamma * p_t * ce), 0.0)
        # saved is (NUM_PLANES, P), P = B * S
        tl.store(_plane_pointers(saved_ptr, position, P, LSE_PLANE, WIDE), lse, mask=s_mask)  # also where ignored
        tl.store(_plane_pointers(saved_ptr, position, P, COEF_P_PLANE, WIDE), coef_p, mask=s_mask)
        # coef_const is written even without smoothing (zeros, unread there): the buffer an op returns is defined
        if SMOOTHING:
            coef_const = tl.where(valid, weighted_focal * (-eps / C), 0.0)
        else:
            coef_const = tl.zeros([BLOCK_S], tl.float32)
        tl.store(_plane_pointers(saved_ptr, position, P, COEF_CONST_PLANE, WIDE), coef_const, mask=s_mask)
        tl.store(_plane_pointers(saved_ptr, position, P, COEF_TARGET_PLANE, WIDE), coef_target, mask=s_mask)


@triton.jit
def focal_backward_kernel(
        logits_ptr, grad_ptr, targets_ptr, saved_ptr, grad_loss_ptr,
        S, C, P, stride_b, stride_s, stride_c, stride_tb, stride_ts, upstream_stride_b, upstream_stride_s,
        ignore_index,
        SMOOTHING: tl.constexpr, SCALAR_GRAD: tl.constexpr, CLASS_CONTIGUOUS: tl.constexpr,
        POSITION_CONTIGUOUS: tl.constexpr, WIDE: tl.constexpr, BLOCK_S: tl.constexpr, BLOCK_C: tl.constexpr):
    pid = tl.program_id(0)
    b, s, s_mask, rows, position, t = _program_positions(
        pid, S, stride_b, stride_s, stride_tb, stride_ts, targets_ptr, ignore_index, POSITION_CONTIGUOUS, WIDE, BLOCK_S)
    t = tl.where((t >= 0) & (t < C) & (t != ignore_index), t, -1)  # -1 matches no column
    if SCALAR_GRAD:
        upstream = tl.load(grad_loss_ptr).to(tl.float32)
    else:
        upstream = tl.load(grad_loss_ptr + b.to(tl.int64) * upstream_stride_b + s.to(tl.int64) * upstream_stride_s,
                           mask=s_mask, other=0.0).to(tl.float32)
    lse = tl.load(_plane_pointers(saved_ptr, position, P, LSE_PLANE, WIDE), mask=s_mask, other=0.0)
    coef_p = upstream * tl.load(_plane_pointers(saved_ptr, position, P, COEF_P_PLANE, WIDE), mask=s_mask, other=0.0)
    if SMOOTHING:
        coef_const = upstream * tl.load(_plane_pointers(saved_ptr, position, P, COEF_CONST_PLANE, WIDE), mask=s_mask,
                                        other=0.0)
    else:
        coef_const = tl.zeros([BLOCK_S], tl.float32)
    coef_target = upstream * tl.load(_plane_pointers(saved_ptr, position, P, COEF_TARGET_PLANE, WIDE), mask=s_mask,
                                     other=0.0)

    for c0 in range(0, C, BLOCK_C):
        c = c0 + tl.arange(0, BLOCK_C)
        mask = s_mask[:, None] & (c < C)[None, :]
        offsets = rows[:, None] + _class_offsets(c, stride_c, CLASS_CONTIGUOUS, WIDE)[None, :]
        x = tl.load(logits_ptr + offsets, mask=mask, other=0.0).to(tl.float32)
        grad = coef_p[:, None] * tl.exp(x - lse[:, None]) + coef_const[:, None]
        grad = tl.where(c[None, :] == t[:, None], coef_target[:, None], grad)
        tl.store(grad_ptr + offsets, grad.to(grad_ptr.dtype.element_ty), mask=mask)


def _as_bcs(tensor):
    """``tensor`` (N, C, d1..dk) as a (B, C, S) view, (N, C) as (1, C, N); None where only a copy would do."""
    if tensor.dim() == 2:
        return tensor.t().unsqueeze(0)
    try:
        return tensor.view(tensor.shape[0], tensor.shape[1], math.prod(tensor.shape[2:]))
    except RuntimeError:  # strides that do not merge: the caller makes the logits contiguous
        return None


def _per_position(tensor, logits_dim):
    """A tensor shaped like the targets as (B, S), matching ``_as_bcs`` (reshape may copy: read-only uses)."""
    return tensor.reshape(1, -1) if logits_dim == 2 else tensor.reshape(tensor.shape[0], math.prod(tensor.shape[1:]))


class _Launch:
    """Layout flags and the tile of one (B, C, S) view (``triton_tiles.tile_for``: a fixed table,
    no runtime tuning), and the launch of a kernel over it."""

    def __init__(self, view):
        self.view = view
        self.num_b, self.num_classes, self.num_s = view.shape
        _, stride_c, stride_s = view.stride()
        self.class_contiguous = stride_c == 1 or self.num_classes == 1
        self.position_contiguous = not self.class_contiguous and (stride_s == 1 or self.num_s == 1)
        # WIDE is decided on the narrow tile's overhang; a WIDE launch then takes the table's WIDE tile
        narrow = tile_for(self.num_classes, self.position_contiguous, view.dtype, wide=False)
        self.wide = needs_wide_offsets(view, narrow)
        self.tile = tile_for(self.num_classes, self.position_contiguous, view.dtype, wide=True) if self.wide else narrow
        self.max_programs = self.programs(self.tile.block_s)
        if PARTIAL_SLOTS.value * self.max_programs >= 2**31:  # int32 partial offsets (an int64 pid spilled on sm_90)
            raise ValueError(f"logits of shape {tuple(view.shape)} as (B, C, S) need {self.max_programs} programs, "
                             "more than the Triton backend's partial sums address; use backend='eager'")

    def programs(self, block_s):
        return self.num_b * triton.cdiv(self.num_s, block_s)

    def run(self, kernel, pointers, scalars, **constexprs):
        """Launch ``kernel(*pointers, <shape and strides of the view>, *scalars)`` over every position,
        on the view's device (Triton launches on the current one); returns the number of programs."""
        if not self.max_programs:
            return 0
        view, tile = self.view, self.tile
        args = pointers + (self.num_s, self.num_classes, self.num_b * self.num_s, view.stride(0), view.stride(2),
                           view.stride(1)) + scalars
        constexprs.update(CLASS_CONTIGUOUS=self.class_contiguous, POSITION_CONTIGUOUS=self.position_contiguous,
                          WIDE=self.wide)
        with device_guard(view.device):
            kernel[(self.max_programs,)](*args, **constexprs, BLOCK_S=tile.block_s, BLOCK_C=tile.block_c,
                                         num_warps=tile.num_warps, num_stages=tile.num_stages)
        return self.max_programs


def device_guard(device):
    """Make ``device`` current for a launch: Triton launches on the current CUDA device and its stream."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def needs_wide_offsets(view, tile):
    """Whether an element offset of a launch of ``tile`` over the (B, C, S) ``view`` can reach 2**31:
    the logits (and the gradient, laid out alike), with strides and the tile's overhang included, or
    the saved (NUM_PLANES, B * S) buffer. The positions themselves (s up to S + BLOCK_S) are within
    the logits' span. Per-position buffers (targets, weight, loss, upstream gradient) are addressed
    in int64 always."""
    _, stride_c, stride_s = view.stride()
    span = sum((size - 1) * stride for size, stride in zip(view.shape, view.stride()) if size)
    logits_end = span + tile.block_s * max(stride_s, 1) + tile.block_c * max(stride_c, 1)
    saved_end = NUM_PLANES * view.shape[0] * view.shape[2]
    return max(logits_end, saved_end) >= WIDE_OFFSETS_FROM


def _forward(logits, targets, factors, weight, options: LossOptions, reduce, with_grad):
    view = _as_bcs(logits)
    if view is None:
        logits = logits.contiguous()
        view = _as_bcs(logits)
    launch = _Launch(view)
    device = logits.device
    targets_bs = _per_position(targets, logits.dim())
    # The kernel reads alpha_ptr + target: loss_op made alpha a contiguous float32 tensor on this device.
    alpha = factors.alpha
    if weight is not None:
        weight = _per_position(weight.detach(), logits.dim()).contiguous()
        weight = weight if weight.is_floating_point() else weight.float()
    smoothing = options.label_smoothing != 0
    flags = device_checks.flags(device)
    loss = partial = saved = None
    if reduce:
        partial = torch.empty((max(launch.max_programs, 1), PARTIAL_SLOTS.value), dtype=torch.float32, device=device)
    else:
        loss = torch.empty(targets.shape, dtype=torch.float32, device=device)
    if with_grad:
        saved = torch.empty((NUM_PLANES, launch.num_b * launch.num_s), dtype=torch.float32, device=device)
    # ``flags`` stands in for the pointers that a constexpr switches off (never dereferenced).
    programs = launch.run(
        focal_forward_kernel,
        (view, targets_bs, flags if alpha is None else alpha, flags if weight is None else weight,
         flags if loss is None else loss, flags if partial is None else partial, flags if saved is None else saved,
         flags),
        (targets_bs.stride(0), targets_bs.stride(1), float(options.gamma), float(options.label_smoothing),
         int(options.ignore_index), int(options.background_class)),
        HAS_ALPHA=alpha is not None, HAS_WEIGHT=weight is not None, SMOOTHING=smoothing, WITH_GRAD=with_grad,
        REDUCE=reduce)
    count = None
    if reduce:  # the partials of the programs that ran, summed by torch (a parallel, deterministic reduction)
        partial = partial[:programs]
        loss, count = partial[:, LOSS_SLOT.value].sum(), partial[:, VALID_SLOT.value:].sum(0)
    return ForwardResult(loss, count, None if saved is None else TritonSaved(saved))


def _backward(logits, targets, saved, grad_loss, options: LossOptions):
    saved_tensor = saved.planes
    targets_bs = _per_position(targets, logits.dim())
    smoothing, ignore_index = options.label_smoothing != 0, options.ignore_index
    view = _as_bcs(logits)
    grad = torch.empty_like(logits)
    if view is None or grad.stride() != logits.stride():  # not dense: compute on a contiguous copy
        logits = logits.contiguous()
        view = _as_bcs(logits)
        grad = torch.empty_like(logits)
    launch = _Launch(view)
    scalar = grad_loss.dim() == 0
    upstream = grad_loss if scalar else _per_position(grad_loss, logits.dim())
    launch.run(
        focal_backward_kernel, (view, _as_bcs(grad), targets_bs, saved_tensor, upstream),
        (targets_bs.stride(0), targets_bs.stride(1), 0 if scalar else upstream.stride(0),
         0 if scalar else upstream.stride(1), int(ignore_index)),
        SMOOTHING=smoothing, SCALAR_GRAD=scalar)
    return grad


class TritonSaved(NamedTuple):
    """What the backward kernel reads: one float32 (4, B * S) buffer the forward kernel wrote,
    per position (b, s) its log-sum-exp and the coefficients a, c, t (0 where not valid)."""
    planes: Tensor

    def pack(self, shape):
        """The buffer viewed as (4, *targets.shape) (``shape``: the targets'), for a custom op to return."""
        return self.planes.view((NUM_PLANES,) + tuple(shape))

    @classmethod
    def unpack(cls, tensor):
        return cls(tensor.reshape(NUM_PLANES, -1))


class TritonBackend:
    """Hand-written kernels for CUDA (and Triton's interpreter); float32, float16, bfloat16."""
    name = "triton"
    checks_targets = True  # the forward kernel flags bad targets and alpha values (device_checks)
    Saved = TritonSaved

    def not_supported_reasons(self, logits):
        return not_supported_reasons(logits)

    def compute_forward(self, logits, targets, factors, weight, options, reduce, with_grad) -> ForwardResult:
        return _forward(logits, targets, factors, weight, options, reduce, with_grad)

    def compute_backward(self, logits, targets, saved: TritonSaved, grad_loss, options: LossOptions):
        return _backward(logits, targets, saved, grad_loss, options)


BACKEND = TritonBackend()
