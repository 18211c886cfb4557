"""The loss's backends, behind one interface, chosen in one place (``select``).

Each backend is an object (``<module>.BACKEND``) with

    name: 'eager' | 'compile' | 'triton'
    Saved: its own saved-state type (a NamedTuple of tensors) with ``pack(shape)`` -> one
        (4, *targets.shape) tensor and ``unpack(tensor)``, so that a custom op can return it
    checks_targets: True where its kernel flags bad targets and alpha values on the device itself
    not_supported_reasons(logits) -> list of reasons it cannot run on these logits (empty: it can)
    compute_forward(logits, targets, alpha, weight, options, reduce, with_grad) -> ForwardResult
        (loss per position shaped like targets, float32 or float64, or with ``reduce`` its 0-d
        sum; counts (valid, valid non-background) with ``reduce``; a ``Saved`` with ``with_grad``)
    compute_backward(logits, targets, saved, grad_loss, options) -> gradient w.r.t. the logits, in their dtype

``options`` is the caller's ``LossOptions`` (``options.py``), unchanged: a backend reads the fields
its formulas need (gamma, label_smoothing, ignore_index, background_class).

- ``eager``: the formulas as tensor functions (the math, written once).
- ``compile``: the same two functions through ``torch.compile`` (the eager backend's saved state).
- ``triton``: hand-written Triton kernels of the same formulas (CUDA; its own saved buffer).

What they return is ``interface.py``'s. ``loss_op.py``, beside this package, runs a backend with
the value checks of the targets and alpha (``checks/host.py``, ``checks/device.py``), as two
custom operators under torch.compile or as plain calls; no backend imports the API.
"""
import warnings

from . import eager, verification

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


def _triton_reasons(logits):
    module, import_error = _triton()
    return [import_error] if import_error else module.BACKEND.not_supported_reasons(logits)


def select(backend, logits):
    """The backend to run for these logits. An explicit backend runs or raises; 'auto' takes
    Triton for CUDA tensors in float32/16/bf16 on a GPU that a committed verification record
    covers (``verification.py``), else eager (with one warning on CUDA that says why and names
    ``backend='triton'``, the opt-in)."""
    global _auto_warned
    if backend == "eager":
        return eager.BACKEND
    if backend == "compile":
        from . import compile as compiled
        return compiled.BACKEND
    if backend == "triton":
        reasons = _triton_reasons(logits)
        if reasons:
            raise RuntimeError(f"backend='triton' cannot run here: {'; '.join(reasons)}")
        return _triton_module.BACKEND
    if logits.device.type != "cuda" or not logits.dtype.is_floating_point or logits.element_size() > 4:
        return eager.BACKEND  # CPU and float64: eager by design
    reasons = _triton_reasons(logits)
    if not reasons and _triton_module.INTERPRETED:
        reasons = ["TRITON_INTERPRET=1 runs Triton kernels in Python"]
    if not reasons:
        unverified = verification.unverified_reason(verification.identity_of(logits.device),
                                                    _triton_module.triton.__version__, verification.load_records())
        reasons = [unverified] if unverified else []
    if reasons:
        if not _auto_warned:
            _auto_warned = True
            warnings.warn(f"SoftmaxFocalLoss(backend='auto'): using the eager backend on {logits.device} because "
                          f"{'; '.join(reasons)}. backend='triton' opts in to the Triton kernels where they run",
                          RuntimeWarning, stacklevel=4)
        return eager.BACKEND
    return _triton_module.BACKEND
