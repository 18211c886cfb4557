"""The loss as two operators the compiler sees as one node each: ``imbalanced_losses::focal_forward``
and ``imbalanced_losses::focal_backward`` (``torch.library.custom_op``, torch >= 2.4).

Inside them run what ``torch.compile`` cannot trace without breaking the graph: the choice of
backend for the tensors' device and dtype, the value checks of the targets and alpha (a host sync
and a ``ValueError`` on CPU; flags on the device on CUDA), and the backend itself (eager tensor
operations, the ``compile`` backend's kernels, or Triton kernels). The compiler sees their
outputs' shapes through fake implementations, and the forward's outputs are consumed by the
loss, so the checks inside cannot be dropped as dead code. Backward: ``register_autograd``.

Outside torch.compile, and on torch without ``custom_op``, the same two functions run as plain
calls (``run_forward``, then ``FocalGradient``, an ``autograd.Function`` that attaches the
backend's backward): the custom op's dispatch costs more per call than the compiler's view is
worth there.
"""
import dataclasses
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .checks import device as device_checks
from .checks import host as checks
from .checks.host import CheckPolicy
from .class_factors import ClassFactors
from .kernels import select
from .kernels.interface import SAVED_PLANES
from .options import LossOptions

CUSTOM_OPS = hasattr(torch.library, "custom_op") and hasattr(torch.library, "register_autograd")


def run_forward(logits, targets, factors: ClassFactors, weight, options: LossOptions, with_grad):
    """The value checks (immediate or deferred, ``CheckPolicy``; the per-class factors' unless
    ``factors.checked``), then the backend's forward: (backend, ForwardResult)."""
    backend = select(options.backend, logits)
    num_classes, ignore_index = logits.shape[1], options.ignore_index
    deferred = CheckPolicy.for_call(logits.device, options.sync_checks) is CheckPolicy.DEFERRED
    # First: a deferred check flags the values on the logits' device
    factors = factors.on_device(logits.device, loss_dtype(logits.dtype))
    alpha = factors.alpha if not factors.checked else None  # what is left to check
    if deferred:  # no host sync: a bad value is computed as ignored, raised later
        device_checks.raise_pending(logits.device)  # from an earlier call
        if not backend.checks_targets:  # the Triton kernels flag them as they read
            device_checks.record_targets(targets, num_classes, ignore_index)
            if alpha is not None:
                factors = factors._replace(alpha=device_checks.checked_alpha(alpha))
    else:
        checks.check_target_values(targets, num_classes, ignore_index)
        if alpha is not None:
            checks.check_alpha_values(alpha)
    result = backend.compute_forward(logits, targets, factors, weight, options, options.reduction != "none",
                                     with_grad)
    if deferred:
        device_checks.after_call(logits.device, num_classes, ignore_index)
    return backend, result


def loss_dtype(logits_dtype):
    return torch.promote_types(logits_dtype, torch.float32)


class FocalGradient(torch.autograd.Function):
    """Attaches the backend's backward to a loss that ``run_forward`` computed (eager calls, and
    torch without ``custom_op``): the same forward and backward as the custom ops, with the
    backend's saved state kept as it is (no packing into one tensor)."""

    @staticmethod
    def forward(ctx, logits, loss, targets, backend, options, *saved):
        ctx.save_for_backward(logits, targets, *saved)
        ctx.backend, ctx.options = backend, options
        return loss.view_as(loss)  # the loss itself, now an output of this node

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_loss):
        logits, targets, *saved = ctx.saved_tensors
        backend = ctx.backend
        grad = backend.compute_backward(logits, targets, backend.Saved(*saved), grad_loss, ctx.options)
        return (grad, None, None, None, None) + (None,) * len(saved)


# The custom ops' schemas, generated: the tensors and the per-call flag written here, the per-class
# factors from ``ClassFactors``' fields, the options from ``LossOptions``' (a new field needs no
# edit here unless its type is new to this table).
_SCHEMA_TYPES = {Tensor: "Tensor", Optional[Tensor]: "Tensor?", float: "float", int: "int", str: "str", bool: "bool",
                 Optional[bool]: "bool?"}
_FACTOR_FIELDS = tuple(ClassFactors.__annotations__.items())
_FORWARD_PARAMETERS = ((("logits", Tensor), ("targets", Tensor)) + _FACTOR_FIELDS
                       + (("weight", Optional[Tensor]), ("with_grad", bool)))
_OPTION_FIELDS = tuple((field.name, field.type) for field in dataclasses.fields(LossOptions))
_OPTIONS_START = len(_FORWARD_PARAMETERS)  # the forward's arguments before the options' values


def _schema(parameters, owner):
    arguments = []
    for name, kind in parameters:
        if owner == "LossOptions" and kind in (Tensor, Optional[Tensor]):
            raise TypeError(f"LossOptions.{name} is a tensor: LossOptions holds scalars; a per-class tensor is a "
                            "field of ClassFactors (class_factors.py), which the custom ops carry too")
        if kind not in _SCHEMA_TYPES:
            raise TypeError(f"{owner}.{name} is a {kind}, which the custom ops' schema cannot carry: add its schema "
                            "type to loss_op.py's _SCHEMA_TYPES")
        arguments.append(f"{_SCHEMA_TYPES[kind]} {name}")
    return ", ".join(arguments)


_OPTIONS_SCHEMA = _schema(_OPTION_FIELDS, "LossOptions")
FORWARD_SCHEMA = f"({_schema(_FORWARD_PARAMETERS, 'ClassFactors')}, {_OPTIONS_SCHEMA}) -> (Tensor, Tensor, Tensor)"
BACKWARD_SCHEMA = f"(Tensor logits, Tensor targets, Tensor saved, Tensor grad_loss, {_OPTIONS_SCHEMA}) -> Tensor"


def forward_op_arguments(logits, targets, factors: ClassFactors, weight, options: LossOptions, with_grad):
    """The forward custom op's arguments in its schema's order: the tensors, the per-class factors'
    fields, the weight and the per-call flag, the options' values."""
    return (logits, targets, *factors, weight, with_grad) + options.values()


def _forward_call(arguments):
    """(logits, targets, factors, weight, options, with_grad) from the forward op's arguments."""
    logits, targets = arguments[:2]
    factors = ClassFactors(*arguments[2:2 + len(_FACTOR_FIELDS)])
    weight, with_grad = arguments[2 + len(_FACTOR_FIELDS):_OPTIONS_START]
    return logits, targets, factors, weight, LossOptions.of_checked_values(arguments[_OPTIONS_START:]), with_grad


def _focal_forward(*arguments):
    """(loss, counts, saved): the loss per position (or its sum), the (valid, positive) counts
    (zeros without reduction) and the backend's saved state packed in one tensor for the backward
    (empty without ``with_grad``)."""
    logits, targets, factors, weight, options, with_grad = _forward_call(arguments)
    _, (loss, counts, saved) = run_forward(logits, targets, factors, weight, options, with_grad)
    return (loss, loss.new_zeros(2) if counts is None else counts,
            loss.new_empty(0) if saved is None else saved.pack(targets.shape))


def _focal_forward_fake(*arguments):
    logits, targets, _, _, options, with_grad = _forward_call(arguments)
    dtype = loss_dtype(logits.dtype)
    reduced = options.reduction != "none"
    return (logits.new_empty(() if reduced else targets.shape, dtype=dtype), logits.new_empty(2, dtype=dtype),
            logits.new_empty((SAVED_PLANES, *targets.shape) if with_grad else (0,), dtype=dtype))


def _focal_backward(logits, targets, saved, grad_loss, *option_values):
    """The gradient with respect to the logits, in their dtype."""
    options = LossOptions.of_checked_values(option_values)
    backend = select(options.backend, logits)
    return backend.compute_backward(logits, targets, backend.Saved.unpack(saved), grad_loss, options).contiguous()


def _focal_backward_fake(logits, targets, saved, grad_loss, *option_values):
    return logits.new_empty(logits.shape)


def _setup_context(ctx, inputs, output):
    logits, targets = inputs[:2]
    _, counts, saved = output
    ctx.save_for_backward(logits, targets, saved)
    ctx.option_values, ctx.num_inputs = inputs[_OPTIONS_START:], len(inputs)
    ctx.mark_non_differentiable(counts, saved)


def _backward(ctx, grad_loss, grad_counts, grad_saved):
    logits, targets, saved = ctx.saved_tensors
    no_grads = (None,) * (ctx.num_inputs - 1)  # only the logits get a gradient
    return (focal_backward(logits, targets, saved, grad_loss, *ctx.option_values),) + no_grads


if CUSTOM_OPS:
    focal_forward = torch.library.custom_op("imbalanced_losses::focal_forward", _focal_forward, mutates_args=(),
                                            schema=FORWARD_SCHEMA)
    focal_forward.register_fake(_focal_forward_fake)
    focal_backward = torch.library.custom_op("imbalanced_losses::focal_backward", _focal_backward, mutates_args=(),
                                             schema=BACKWARD_SCHEMA)
    focal_backward.register_fake(_focal_backward_fake)
    focal_forward.register_autograd(_backward, setup_context=_setup_context)


def through_custom_ops():
    """Whether a call goes through the custom ops: while torch.compile traces (the compiler sees
    one node each). Eager calls skip the custom op's dispatch, which cost about 0.2 ms per
    forward+backward on CPU (see the torch.compile guide)."""
    return CUSTOM_OPS and torch.compiler.is_compiling()


def loss_and_counts(logits, targets, factors: ClassFactors, weight, options: LossOptions):
    """(loss, counts): ``run_forward`` and the backend's backward, through the custom ops while
    torch.compile traces, else directly with ``FocalGradient`` attaching the backward. The
    per-class factors' values are checked there unless ``factors.checked``."""
    with_grad = torch.is_grad_enabled() and logits.requires_grad
    if not through_custom_ops():
        with torch.no_grad():
            backend, (loss, counts, saved) = run_forward(logits, targets, factors, weight, options, with_grad)
        counts = loss.new_zeros(2) if counts is None else counts
        if with_grad:
            loss = FocalGradient.apply(logits, loss, targets, backend, options, *saved)
        return loss, counts
    loss, counts, _ = focal_forward(*forward_op_arguments(logits, targets, factors, weight, options, with_grad))
    return loss, counts
