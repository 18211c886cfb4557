"""Evaluate a checkpoint (COCO mAP via mmdet's CocoMetric); mmdet's tools/test.py flags.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show-dir DIR]
    tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [...]

The checkpoint is loaded with torch's weights_only=True plus an allow-list of the types that
mmengine writes (see imbalanced_losses.mmdet.runtime): a file holding anything else is refused.
"""
import argparse
import os

from mmdet.engine.hooks.utils import trigger_visualization_hook
from mmdet.evaluation import DumpDetResults
from mmengine.config import DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from torch.distributed.elastic.multiprocessing.errors import record

from imbalanced_losses.mmdet.runtime import check_checkpoint, load_config


def parse_args():
    parser = argparse.ArgumentParser(description="Test (and eval) a detector")
    parser.add_argument("config", help="test config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--work-dir", help="the directory to save the file containing evaluation metrics")
    parser.add_argument("--out", type=str, help="dump raw predictions to this pickle file (.pkl)")
    parser.add_argument("--show", action="store_true", help="show prediction results")
    parser.add_argument("--show-dir", help="save images with predicted boxes drawn, under the work dir's "
                                           "timestamped folder")
    parser.add_argument("--wait-time", type=float, default=2, help="the interval of show (s)")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction,
                        help="override config settings, key=value")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="job launcher")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=0)
    args = parser.parse_args()
    if "LOCAL_RANK" not in os.environ:
        os.environ["LOCAL_RANK"] = str(args.local_rank)
    if args.out is not None and not args.out.endswith((".pkl", ".pickle")):
        parser.error(f"--out must be a .pkl or .pickle file, got {args.out}")
    return args


@record  # under torchrun: a failing rank's traceback goes into the job's error summary
def main():
    args = parse_args()
    check_checkpoint(args.checkpoint)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)

    runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == "__main__":
    main()
