"""Config, launch and Runner helpers that tools/train.py and tools/test.py share (no installed file
is patched; the checkpoint allow-list they apply is ``imbalanced_losses.openmmlab.checkpoints``).

- ``tool_parser`` / ``parse_tool_args``: the arguments both tools share (config, ``--work-dir``,
  ``--cfg-options``, ``--launcher``, ``--local-rank``), as mmdet's tools spell them.
- ``load_config``: what both tools do before building the Runner, as mmdet's tools do it, plus
  the launcher below and the checkpoint allow-list; ``build_runner``: the Runner from the config,
  as mmdet's tools build it.
- ``setup_launcher``: ``--launcher pytorch`` without CUDA. mmengine's ``init_dist('pytorch')``
  calls ``torch.cuda.set_device`` and its default DDP wrapper passes ``device_ids=[local_rank]``;
  both fail on CPU. We create the gloo process group ourselves (the Runner then skips
  ``init_dist``) and configure the wrapper with ``device_ids=None``. On CUDA nothing changes.
"""
import argparse
import datetime
import os
import os.path as osp

import torch
import torch.distributed as dist

from imbalanced_losses.openmmlab.checkpoints import allow_mmengine_checkpoints


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
