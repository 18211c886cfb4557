"""The loss's backends, chosen in one place (``select``).

The contract is ``interface.py``'s ``Backend`` (name, saved-state type, ``checks_targets``,
``not_supported_reasons``, ``compute_forward``, ``compute_backward``); the backends are the
modules ``backend_registry.py`` names, each with its ``BACKEND`` object:

- ``eager``: the formulas as tensor functions (the math, written once).
- ``compile``: the same two functions through ``torch.compile`` (the eager backend's saved state).
- ``triton``: hand-written Triton kernels of the same formulas (CUDA; its own saved buffer).

An explicit backend runs or raises with its ``not_supported_reasons``; 'auto' is a policy over
them (``select``). ``loss_op.py``, beside this package, runs a backend with the value checks of
the targets and alpha (``checks/host.py``, ``checks/device.py``), as two custom operators under
torch.compile or as plain calls; no backend imports the API.
"""
import importlib
import warnings

from ..backend_registry import AUTO, REGISTRY
from . import eager, verification

_loaded = {}  # name -> (its module, None) or (None, why it cannot be imported)
_auto_warned = False


def load(name):
    """(module, None) for a registered backend's module, or (None, the reason it cannot be
    imported: Triton missing or broken)."""
    entry = _loaded.get(name)
    if entry is None:
        try:
            entry = importlib.import_module(REGISTRY[name]), None
        except Exception as error:  # noqa: BLE001 - a missing or broken Triton install raises many kinds
            entry = None, f"{REGISTRY[name]} cannot be imported ({type(error).__name__}: {error})"
        _loaded[name] = entry
    return entry


def reasons_against(name, logits):
    """(module or None, why backend ``name`` cannot run on these logits: empty where it can)."""
    module, import_error = load(name)
    return module, [import_error] if import_error else module.BACKEND.not_supported_reasons(logits)


def select(backend, logits):
    """The backend to run for these logits. An explicit backend runs or raises; 'auto' takes
    Triton for CUDA tensors in float32/16/bf16 on a GPU that a committed verification record
    covers (``verification.py``), else eager (with one warning on CUDA that says why and names
    ``backend='triton'``, the opt-in)."""
    if backend != AUTO:
        module, reasons = reasons_against(backend, logits)
        if reasons:
            raise RuntimeError(f"backend={backend!r} cannot run here: {'; '.join(reasons)}")
        return module.BACKEND
    return _auto(logits)


def _auto(logits):
    global _auto_warned
    if logits.device.type != "cuda" or not logits.dtype.is_floating_point or logits.element_size() > 4:
        return eager.BACKEND  # CPU and float64: eager by design
    triton_module, reasons = reasons_against("triton", logits)
    if not reasons and triton_module.INTERPRETED:
        reasons = ["TRITON_INTERPRET=1 runs Triton kernels in Python"]
    if not reasons:
        unverified = verification.unverified_reason(verification.identity_of(logits.device),
                                                    triton_module.triton.__version__, verification.load_records())
        reasons = [unverified] if unverified else []
    if reasons:
        if not _auto_warned:
            _auto_warned = True
            warnings.warn(f"SoftmaxFocalLoss(backend='auto'): using the eager backend on {logits.device} because "
                          f"{'; '.join(reasons)}. backend='triton' opts in to the Triton kernels where they run",
                          RuntimeWarning, stacklevel=5)
        return eager.BACKEND
    return triton_module.BACKEND
