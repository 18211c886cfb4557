"""The loss's backends, behind one interface, chosen in one place (``select``).

Each backend module provides

    forward(logits, targets, alpha, weight, params, reduce, with_grad) -> (loss, counts, saved)
        loss: per position, shaped like targets (float32 or float64); with ``reduce`` the 0-d sum.
        counts: with ``reduce``, a (2,) tensor (valid positions, valid non-background positions).
        saved: what ``backward`` needs besides the logits and targets: one (4, *targets.shape)
            tensor of the loss's dtype, four numbers per position whose meaning is the backend's
            own (None without ``with_grad``). One tensor, so that a custom op can return it.
    backward(logits, targets, saved, grad_loss, params) -> gradient with respect to the logits, in their dtype
    unavailable_reason(logits) -> None, or why it cannot run on these logits
    CHECKS_TARGETS: True where the kernel itself flags bad targets and alpha values on the device

- ``eager``: the formulas as tensor functions (the math, written once).
- ``compile``: the same two functions through ``torch.compile``.
- ``triton``: hand-written Triton kernels of the same formulas (CUDA).

``ops.py`` runs a backend with the value checks of the targets and alpha (``checks.py``,
``device_checks.py``) as two custom operators under torch.compile, or in an autograd.Function;
none imports the API.
"""
import warnings

from . import eager

BACKENDS = ("auto", "eager", "compile", "triton")
_triton_module = None
_triton_import_error = None
_auto_warned = False


def _triton():
    """The Triton backend module, or the reason it cannot be imported."""
    global _triton_module, _triton_import_error
    if _triton_module is None and _triton_import_error is None:
        try:
            from . import triton_focal
            _triton_module = triton_focal
        except Exception as error:  # noqa: BLE001 - a missing or broken Triton install raises many kinds
            _triton_import_error = f"Triton cannot be imported ({type(error).__name__}: {error})"
    return _triton_module, _triton_import_error


def check_name(backend):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def select(backend, logits):
    """The backend module to run for these logits. An explicit backend runs or raises; 'auto'
    takes Triton for CUDA tensors in float32/16/bf16 where Triton runs our kernels, else eager
    (with one warning where Triton was the choice but cannot run)."""
    global _auto_warned
    if backend == "eager":
        return eager
    if backend == "compile":
        from . import compile as compiled
        return compiled
    if backend == "triton":
        module, reason = _triton()
        reason = reason or module.unavailable_reason(logits)
        if reason:
            raise RuntimeError(f"backend='triton' cannot run here: {reason}")
        return module
    if logits.device.type != "cuda" or not logits.dtype.is_floating_point or logits.element_size() > 4:
        return eager  # CPU and float64: eager by design
    module, reason = _triton()
    if module is not None and module.INTERPRETED:
        reason = "TRITON_INTERPRET=1 runs Triton kernels in Python"
    reason = reason or module.unavailable_reason(logits)
    if reason:
        if not _auto_warned:
            _auto_warned = True
            warnings.warn(f"SoftmaxFocalLoss(backend='auto'): using the eager backend on CUDA because {reason}",
                          RuntimeWarning, stacklevel=4)
        return eager
    return module
