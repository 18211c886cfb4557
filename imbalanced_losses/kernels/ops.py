"""The loss as two operators the compiler sees as one node each: ``imbalanced_losses::focal_forward``
and ``imbalanced_losses::focal_backward`` (``torch.library.custom_op``, torch >= 2.4).

Inside them run what ``torch.compile`` cannot trace without breaking the graph: the choice of
backend for the tensors' device and dtype, the value checks of the targets and alpha (a host sync
and a ``ValueError`` on CPU; flags on the device on CUDA), and the backend itself (eager tensor
operations, the ``compile`` backend's kernels, or Triton kernels). The compiler sees their
outputs' shapes through fake implementations, and the forward's outputs are consumed by the
loss, so the checks inside cannot be dropped as dead code. Backward: ``register_autograd``.

Outside torch.compile, and on torch without ``custom_op``, the same two functions run inside an
``autograd.Function`` (``FocalFunction``): the custom op's dispatch costs more per call than the
compiler's view is worth there.
"""
import collections
from typing import NamedTuple, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from . import checks, device_checks, select
from .checks import CheckPolicy
from .params import BackwardParams, CallPlan, FocalParams

CUSTOM_OPS = hasattr(torch.library, "custom_op") and hasattr(torch.library, "register_autograd")
USE_CUSTOM_OPS = CUSTOM_OPS  # False: the autograd.Function also under torch.compile
EAGER_CUSTOM_OPS = False  # True: the custom ops also outside torch.compile (tests compare the two paths)


def run_forward(logits, targets, alpha, weight, plan: CallPlan, with_grad):
    """Checks as the plan says, then the backend's forward: (backend, ForwardResult)."""
    backend = select(plan.backend, logits)
    num_classes, ignore_index = logits.shape[1], plan.params.ignore_index
    if alpha is not None:
        alpha = alpha_on_device(alpha, logits.device)  # first: a deferred check flags it on the logits' device
    if plan.checks is CheckPolicy.DEFERRED:  # no host sync: a bad value is computed as ignored, raised later
        device_checks.raise_pending(logits.device)  # from an earlier call
        if not backend.checks_targets:  # the Triton kernels flag them as they read
            device_checks.record_targets(targets, num_classes, ignore_index)
            if alpha is not None and plan.check_alpha:
                alpha = device_checks.checked_alpha(alpha)
    else:
        checks.check_target_values(targets, num_classes, ignore_index)
        if alpha is not None and plan.check_alpha:
            checks.check_alpha_values(alpha)
    result = backend.forward(logits, targets, alpha, weight, plan.params, plan.reduce, with_grad)
    if plan.checks is CheckPolicy.DEFERRED:
        device_checks.after_call(logits.device, num_classes, ignore_index)
    return backend, result


_ALPHA_COPIES = collections.OrderedDict()  # (device, dtype, values) -> alpha's copy on that device
_ALPHA_COPIES_KEPT = 16


def alpha_on_device(alpha, device):
    """``alpha`` on the logits' device. A CPU alpha (a list, or a tensor the caller did not move) is
    copied once per device and values, then reused: a copy from pageable host memory stalls the
    host at every call, and a CUDA graph capture forbids it (call once before capturing)."""
    if alpha.device == device or alpha.device.type != "cpu":
        return alpha.to(device)
    key = (str(device), alpha.dtype, tuple(alpha.tolist()))  # host values: reading them costs no device sync
    copy = _ALPHA_COPIES.get(key)
    if copy is None:
        if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
            raise RuntimeError(f"alpha is on the CPU and was not used on {device} before this CUDA graph capture: "
                               "its copy to the device cannot be captured; move alpha to the device, or run the "
                               "step once before capturing")
        copy = _ALPHA_COPIES[key] = alpha.to(device)
        if len(_ALPHA_COPIES) > _ALPHA_COPIES_KEPT:
            _ALPHA_COPIES.popitem(last=False)
    else:
        _ALPHA_COPIES.move_to_end(key)
    return copy


def loss_dtype(logits_dtype):
    return torch.promote_types(logits_dtype, torch.float32)


class FocalFunction(torch.autograd.Function):
    """The same forward and backward as the custom ops: for eager calls, and for torch without
    ``custom_op``. It keeps the backend's saved state as it is (no packing into one tensor)."""

    @staticmethod
    def forward(ctx, logits, targets, alpha, weight, plan):
        with_grad = ctx.needs_input_grad[0]
        backend, (loss, counts, saved) = run_forward(logits, targets, alpha, weight, plan, with_grad)
        counts = loss.new_zeros(2) if counts is None else counts
        ctx.mark_non_differentiable(counts)
        if with_grad:
            ctx.save_for_backward(logits, targets, *saved)
            ctx.params, ctx.backend = plan.params.backward(), backend
        return loss, counts

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss, grad_counts):
        logits, targets, *saved = ctx.saved_tensors
        backend = ctx.backend
        return (backend.backward(logits, targets, backend.Saved(*saved), grad_loss, ctx.params),) + (None,) * 4


class ForwardOpArgs(NamedTuple):
    """The forward custom op's arguments, by name: a ``CallPlan`` flattened into the scalars a
    custom op's schema takes (``of``), and back (``plan``)."""
    logits: Tensor
    targets: Tensor
    alpha: Optional[Tensor]
    weight: Optional[Tensor]
    gamma: float
    label_smoothing: float
    ignore_index: int
    background_class: int
    backend: str
    reduce: bool
    with_grad: bool
    deferred: bool
    check_alpha: bool

    @classmethod
    def of(cls, logits, targets, alpha, weight, plan: CallPlan, with_grad):
        params = plan.params
        return cls(logits, targets, alpha, weight, float(params.gamma), float(params.label_smoothing),
                   int(params.ignore_index), int(params.background_class), plan.backend, plan.reduce, with_grad,
                   plan.checks is CheckPolicy.DEFERRED, plan.check_alpha)

    def plan(self) -> CallPlan:
        return CallPlan(FocalParams(self.gamma, self.label_smoothing, self.ignore_index, self.background_class),
                        self.backend, self.reduce, CheckPolicy.DEFERRED if self.deferred else CheckPolicy.IMMEDIATE,
                        self.check_alpha)


if CUSTOM_OPS:
    @torch.library.custom_op("imbalanced_losses::focal_forward", mutates_args=())
    def focal_forward(logits: Tensor, targets: Tensor, alpha: Optional[Tensor], weight: Optional[Tensor],
                      gamma: float, label_smoothing: float, ignore_index: int, background_class: int, backend: str,
                      reduce: bool, with_grad: bool, deferred: bool, check_alpha: bool
                      ) -> Tuple[Tensor, Tensor, Tensor]:
        """(loss, counts, saved): the loss per position (or its sum), the (valid, positive) counts
        (zeros without ``reduce``) and the backend's four numbers per position for the backward
        (empty without ``with_grad``)."""
        args = ForwardOpArgs(logits, targets, alpha, weight, gamma, label_smoothing, ignore_index, background_class,
                             backend, reduce, with_grad, deferred, check_alpha)
        _, (loss, counts, saved) = run_forward(logits, targets, alpha, weight, args.plan(), with_grad)
        return (loss, loss.new_zeros(2) if counts is None else counts,
                loss.new_empty(0) if saved is None else saved.pack(targets.shape))

    @focal_forward.register_fake
    def _focal_forward_fake(logits, targets, alpha, weight, gamma, label_smoothing, ignore_index, background_class,
                            backend, reduce, with_grad, deferred, check_alpha):
        dtype = loss_dtype(logits.dtype)
        return (logits.new_empty(() if reduce else targets.shape, dtype=dtype), logits.new_empty(2, dtype=dtype),
                logits.new_empty((4, *targets.shape) if with_grad else (0,), dtype=dtype))

    @torch.library.custom_op("imbalanced_losses::focal_backward", mutates_args=())
    def focal_backward(logits: Tensor, targets: Tensor, saved: Tensor, grad_loss: Tensor, label_smoothing: float,
                       ignore_index: int, backend: str) -> Tensor:
        """The gradient with respect to the logits, in their dtype."""
        params = BackwardParams(label_smoothing, ignore_index)
        module = select(backend, logits)
        return module.backward(logits, targets, module.Saved.unpack(saved), grad_loss, params).contiguous()

    @focal_backward.register_fake
    def _focal_backward_fake(logits, targets, saved, grad_loss, label_smoothing, ignore_index, backend):
        return logits.new_empty(logits.shape)

    def _setup_context(ctx, inputs, output):
        args = ForwardOpArgs(*inputs)
        _, counts, saved = output
        ctx.save_for_backward(args.logits, args.targets, saved)
        ctx.options = (args.label_smoothing, args.ignore_index, args.backend)  # focal_backward's last three
        ctx.mark_non_differentiable(counts, saved)

    def _backward(ctx, grad_loss, grad_counts, grad_saved):
        logits, targets, saved = ctx.saved_tensors
        no_grads = (None,) * (len(ForwardOpArgs._fields) - 1)  # only the logits get a gradient
        return (focal_backward(logits, targets, saved, grad_loss, *ctx.options),) + no_grads

    torch.library.register_autograd("imbalanced_losses::focal_forward", _backward, setup_context=_setup_context)


def focal_loss(logits, targets, alpha, weight, plan: CallPlan):
    """(loss, counts): through the custom op while torch.compile traces, else ``FocalFunction``.
    Both run ``run_forward`` and the backend's backward; eager calls skip the custom op's
    dispatch, which cost about 0.2 ms per forward+backward on CPU (1024 x 81: 0.92 ms against
    0.73 ms)."""
    if not (USE_CUSTOM_OPS and (EAGER_CUSTOM_OPS or torch.compiler.is_compiling())):
        return FocalFunction.apply(logits, targets, alpha, weight, plan)
    with_grad = torch.is_grad_enabled() and logits.requires_grad
    loss, counts, _ = focal_forward(*ForwardOpArgs.of(logits, targets, alpha, weight, plan, with_grad))
    return loss, counts
