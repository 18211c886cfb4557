"""Loading mmengine checkpoints safely, for our tools and a user's own training script.

- ``allow_mmengine_checkpoints``: torch >= 2.6 loads with ``weights_only=True`` and mmengine
  0.10.7 does not pass ``weights_only``, so its own checkpoints are refused (``Unsupported global
  ... HistoryBuffer``). We allow-list exactly the types mmengine writes into them, and in place
  of the builtin ``getattr`` a function that returns only HistoryBuffer's statistics methods;
  everything else stays refused, so untrusted files are never unpickled freely. The named entry
  (``(function, "builtins.getattr")``) needs torch >= 2.5; on older torch, loading a checkpoint
  through the tools fails closed with a one-line error (never ``weights_only=False``), while
  training from scratch works. Call it once before ``Runner.train()``/``test()`` (our
  ``tools/train.py`` and ``tools/test.py`` do).
- ``check_checkpoint``: a one-line error naming a checkpoint file that cannot be loaded.
"""
import pickle
import zipfile

import numpy as np
import torch

from ..versions import version_prefix

HISTORY_BUFFER_STATISTICS = ("min", "max", "mean", "current")  # what mmengine registers itself


def history_buffer_getattr(obj, name):
    """Stands in for the builtin ``getattr`` when a checkpoint is unpickled.

    HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer, 'min')`` (pickle
    protocol 2 writes nested names so), and its ``__setstate__`` copies them into the
    class-level dict that the logger later calls. The real ``getattr`` would reach anything
    (``getattr(getattr, '__self__')`` is the builtins module), so only HistoryBuffer's own
    statistics methods are returned; anything else is refused.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and isinstance(name, str) and name in HISTORY_BUFFER_STATISTICS:
        return vars(HistoryBuffer)[name]
    owner = getattr(obj, "__qualname__", None) or type(obj).__name__ + " object"
    raise pickle.UnpicklingError(
        f"refused getattr({owner}, {name!r}): a checkpoint may only name HistoryBuffer's statistics methods "
        f"{HISTORY_BUFFER_STATISTICS}")


def mmengine_checkpoint_globals():
    """The non-tensor types that mmengine 0.10.7 writes into a training checkpoint."""
    from mmengine.logging import HistoryBuffer
    numpy_core = getattr(np, "_core", None) or np.core
    return [
        HistoryBuffer,  # message_hub's log scalars
        (history_buffer_getattr, "builtins.getattr"),  # HistoryBuffer's statistics methods only
        numpy_core.multiarray._reconstruct, np.ndarray, np.dtype,  # the buffers' numpy histories
        numpy_core.multiarray.scalar,
        type(np.dtype(np.float64)), type(np.dtype(np.float32)), type(np.dtype(np.int64)),
    ]


MIN_TORCH_FOR_CHECKPOINTS = (2, 5)  # add_safe_globals with (function, name) entries


def _torch_version():
    return version_prefix(torch.__version__)


def require_safe_checkpoint_loading(what):
    """Exit with one line where this torch cannot load mmengine checkpoints weights-only."""
    if _torch_version() < MIN_TORCH_FOR_CHECKPOINTS:
        needed = ".".join(map(str, MIN_TORCH_FOR_CHECKPOINTS))
        raise SystemExit(f"error: cannot load checkpoint {what}: loading mmengine checkpoints safely (weights only, "
                         f"with an allow-list) needs torch >= {needed}, this is torch {torch.__version__}")


def allow_mmengine_checkpoints():
    """Let ``torch.load(weights_only=True)`` read checkpoints that mmengine's Runner wrote (torch
    >= 2.5; on older torch ``check_checkpoint`` refuses to load any)."""
    if _torch_version() >= MIN_TORCH_FOR_CHECKPOINTS:
        torch.serialization.add_safe_globals(mmengine_checkpoint_globals())


def check_checkpoint(path):
    """Load ``path`` as ``test.py``/``--resume`` will (weights only, our allow-list); exit with one
    line naming the file if it is missing, truncated, not a checkpoint, holds refused globals, or
    this torch is too old to load it safely."""
    require_safe_checkpoint_loading(path)
    allow_mmengine_checkpoints()
    try:
        with open(path, "rb") as f:
            legacy_pickle = f.read(1) == b"\x80"  # torch.save before 1.6
        if not legacy_pickle and not zipfile.is_zipfile(path):  # a zip archive's directory is at its end
            raise SystemExit(f"error: cannot load checkpoint {path}: not a PyTorch checkpoint file, or a truncated one")
        state = torch.load(path, map_location="cpu", weights_only=True)
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 - any failure is reported as one line
        # torch wraps unpickling errors in advice; the reason follows "WeightsUnpickler error:"
        text = str(error).split("WeightsUnpickler error:")[-1]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        raise SystemExit(f"error: cannot load checkpoint {path}: {reason}") from None
    if not isinstance(state, dict):
        raise SystemExit(f"error: cannot load checkpoint {path}: it holds a {type(state).__name__}, "
                         "not a checkpoint (a dict with 'state_dict', or a state dict)")
