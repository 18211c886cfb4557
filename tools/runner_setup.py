"""Config, launch and Runner helpers that tools/train.py and tools/test.py share (no installed file
is patched; the checkpoint allow-list they apply is ``imbalanced_losses.openmmlab.checkpoints``).

- ``tool_parser`` / ``parse_tool_args``: the arguments both tools share (config, ``--work-dir``,
  ``--cfg-options``, ``--launcher``, ``--local-rank``), as mmdet's tools spell them.
- ``load_config``: what both tools do before building the Runner, as mmdet's tools do it, plus
  the launcher below and the checkpoint allow-list; ``build_runner``: the Runner from the config,
  as mmdet's tools build it.
- ``setup_launcher`` (``imbalanced_losses.openmmlab.launcher``, importable by a user's own script):
  ``--launcher pytorch`` without CUDA.
"""
import argparse
import os
import os.path as osp

from imbalanced_losses.openmmlab.checkpoints import allow_mmengine_checkpoints
from imbalanced_losses.openmmlab.launcher import setup_launcher


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
