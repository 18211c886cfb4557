"""Config, launch and checkpoint helpers for tools/train.py and tools/test.py (no installed file is patched).

- ``tool_parser`` / ``parse_tool_args``: the arguments both tools share (config, ``--work-dir``,
  ``--cfg-options``, ``--launcher``, ``--local-rank``), as mmdet's tools spell them.
- ``load_config``: what both tools do before building the Runner, as mmdet's tools do it, plus
  the two helpers below; ``build_runner``: the Runner from the config, as mmdet's tools build it.

- ``setup_launcher``: ``--launcher pytorch`` without CUDA. mmengine's ``init_dist('pytorch')``
  calls ``torch.cuda.set_device`` and its default DDP wrapper passes ``device_ids=[local_rank]``;
  both fail on CPU. We create the gloo process group ourselves (the Runner then skips
  ``init_dist``) and configure the wrapper with ``device_ids=None``. On CUDA nothing changes.
- ``check_checkpoint``: a one-line error naming a checkpoint file that cannot be loaded.
- ``allow_mmengine_checkpoints``: torch >= 2.6 loads with ``weights_only=True`` and mmengine
  0.10.7 does not pass ``weights_only``, so its own checkpoints are refused (``Unsupported global
  ... HistoryBuffer``). We allow-list exactly the types mmengine writes into them, and in place
  of the builtin ``getattr`` a function that returns only HistoryBuffer's statistics methods;
  everything else stays refused, so untrusted files are never unpickled freely. The named entry
  (``(function, "builtins.getattr")``) needs torch >= 2.5; on older torch, loading a checkpoint
  through the tools fails closed with a one-line error (never ``weights_only=False``), while
  training from scratch works.
"""
import argparse
import datetime
import os
import os.path as osp
import pickle
import zipfile

import numpy as np
import torch
import torch.distributed as dist

from ..kernels.verification import version_prefix


def setup_launcher(cfg, launcher):
    """Set ``cfg.launcher`` and make the 'pytorch' launcher (torchrun) work on CPU-only machines."""
    cfg.launcher = launcher
    if launcher == "none" or torch.cuda.is_available():
        return
    if launcher != "pytorch":
        raise ValueError(f"--launcher {launcher} needs CUDA (mmengine's init_dist calls torch.cuda.set_device); "
                         "without CUDA use --launcher pytorch through tools/dist_train.sh (torchrun)")
    cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})["backend"] = "gloo"
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=cfg.env_cfg.dist_cfg.get("timeout", 1800))
        dist.init_process_group(backend="gloo", timeout=timeout)  # env:// variables from torchrun
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper.setdefault("type", "MMDistributedDataParallel")
    wrapper.setdefault("broadcast_buffers", False)
    wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", False))
    wrapper["device_ids"] = None  # DDP over CPU modules
    cfg.model_wrapper_cfg = wrapper


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


def tool_parser(description, config_help):
    """An argument parser with the arguments ``tools/train.py`` and ``tools/test.py`` share; each
    tool adds its own (``parse_tool_args`` parses them)."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("config", help=config_help)
    parser.add_argument("--work-dir", help="the dir to save logs, checkpoints and evaluation metrics")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction,
                        help="override config settings, key=value (e.g. train_cfg.max_epochs=2)")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="job launcher")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    return parser


def parse_tool_args(parser):
    """``parser``'s arguments, with ``LOCAL_RANK`` set from ``--local-rank`` where no launcher set it."""
    args = parser.parse_args()
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    return args


def build_runner(cfg):
    """mmengine's Runner for ``cfg`` (a config's own ``runner_type`` where it names one)."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    return Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)


def load_config(args):
    """Config from ``args.config`` with ``--cfg-options``, ``--launcher`` and ``--work-dir`` applied
    (work dir default: ./work_dirs/<config name>), ready for mmengine's Runner."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    setup_launcher(cfg, args.launcher)
    allow_mmengine_checkpoints()
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get("work_dir", None) is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(args.config))[0])
    return cfg
