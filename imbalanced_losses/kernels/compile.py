"""The compile backend: the eager backend's two row-wise functions through ``torch.compile``.

The math is ``eager.focal_rows`` and ``eager.focal_grad``, unchanged: inductor turns each into
fused loops (C++/OpenMP on CPU, Triton on CUDA) that read the logits once and keep no N x C
intermediate. What this module adds:

- Dynamic shapes: positions are viewed as (N, C, S) without a copy, so a detector's changing
  anchor count, or another image size, does not recompile. What does: another dtype, 2-D
  against k-D inputs (S == 1 is specialised), and the first call without a gradient.
- The formulas' scalar options (``eager.FORMULA_SCALARS``: ``gamma``, ``label_smoothing``) enter
  as 0-d tensors, so other values do not recompile
  (logits must then be finite: 0 * -inf is NaN where the eager path skips the smoothing sum).
- Inputs the kernels gain nothing on (no positions, a single row or class) take the eager path.
- Where compilation is not available (no C++ compiler, a Python that dynamo does not support,
  a failing backend), at the forward's or the backward's first compile, one warning is issued
  and the eager functions, which compute the same thing from the same saved tensors, are used
  from then on.
"""
import warnings
from typing import Callable, NamedTuple

import torch

from . import eager

_kernels = None  # CompiledKernels, compiled lazily on first use
_unavailable = None  # why compilation failed, once it has


def _disable(reason):
    global _unavailable
    _unavailable = reason
    warnings.warn(f"SoftmaxFocalLoss(backend='compile'): torch.compile is not available here ({reason}); "
                  "using the eager path, which computes the same loss", RuntimeWarning, stacklevel=5)


class CompiledKernels(NamedTuple):
    """``eager.focal_rows`` and ``eager.focal_grad`` through torch.compile."""
    rows: Callable
    grad: Callable


def _kernels_for(logits):
    """The ``CompiledKernels``, or None where the eager functions should run."""
    global _kernels
    if _unavailable is not None or logits.shape[0] < 2 or logits.shape[1] < 2 or logits.numel() == 0:
        return None
    if _kernels is None:
        if not torch._dynamo.is_dynamo_supported():
            _disable("torch._dynamo does not support this platform or Python")
            return None
        # A row count seen at the first call must not decide the threading for all later ones:
        # with the default, a small first batch compiles serial C++ loops (measured 1.7x slower
        # at 262144 x 81 on 2 threads); with dynamic_threads the loops are always OpenMP-parallel.
        options = {"cpp.dynamic_threads": True}
        _kernels = CompiledKernels(torch.compile(eager.focal_rows, dynamic=True, options=options),
                                   torch.compile(eager.focal_grad, dynamic=True, options=options))
    return _kernels


def _guarded(call):
    """Run ``call``; on a failure of the compiler stack disable compilation and return None."""
    try:
        return call()
    except Exception as error:  # noqa: BLE001 - compile failures surface as many types; see _is_compile_error
        if not _is_compile_error(error):
            raise
        first_line = (str(error).strip().splitlines() or [""])[0]
        _disable(f"{type(error).__name__}: {first_line}")
        return None


def _compiled_rows(logits, index, weight, scalars, with_grad):
    """``eager.focal_rows`` compiled; ``scalars`` (the values of ``eager.FORMULA_SCALARS``) enter
    as 0-d tensors, so that other values do not recompile."""
    kernels = _kernels_for(logits)
    if kernels is not None:
        n, c = logits.shape[:2]
        compute_dtype = torch.promote_types(logits.dtype, torch.float32)
        tensors = [torch.full((), value, dtype=compute_dtype, device=logits.device) for value in scalars]
        result = _guarded(lambda: kernels.rows(logits.reshape(n, c, -1), index.reshape(n, -1), weight.reshape(n, -1),
                                             *tensors, with_grad))
        if result is not None:
            loss, saved = result
            shape = index.shape
            return loss.reshape(shape), None if saved is None else tuple(t.reshape(shape) for t in saved)
    return eager.focal_rows(logits, index, weight, *scalars, with_grad)


def _compiled_grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss, smoothing=True):
    kernels = _kernels_for(logits)
    if kernels is not None:  # one kernel with or without smoothing: coef_const is then the saved zeros
        n, c = logits.shape[:2]
        per_row = [t.reshape(n, -1) for t in (index, row_max, coef_p, coef_const, coef_target, grad_loss)]
        grad = _guarded(lambda: kernels.grad(logits.reshape(n, c, -1), *per_row))
        if grad is not None:
            return grad.reshape(logits.shape)
    return eager.focal_grad(logits, index, row_max, coef_p, coef_const, coef_target, grad_loss, smoothing)


class CompileBackend(eager.EagerBackend):
    """The eager backend with its two row-wise functions compiled; the same saved state. Always
    runs: where compilation fails it warns and computes eagerly (see the module docstring)."""
    name = "compile"
    rows = staticmethod(_compiled_rows)
    grad = staticmethod(_compiled_grad)


BACKEND = CompileBackend()


def _is_compile_error(error):
    """Failures of the compiler stack (not of the math): dynamo's backend errors, inductor's C++
    compiler errors, a missing compiler executable."""
    names = {type(e).__name__ for e in (error, error.__cause__, error.__context__) if e is not None}
    return bool(names & {"BackendCompilerFailed", "InductorError", "InvalidCxxCompiler", "CppCompileError",
                         "FileNotFoundError", "CalledProcessError"})
