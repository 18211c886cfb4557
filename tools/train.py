"""Train a detector or a segmentor with mmengine's Runner (mmdet's tools/train.py, plus CPU launch support).

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] [--cfg-options k=v ...]
    tools/dist_train.sh CONFIG NUM_PROCESSES [...]      # torchrun; gloo on machines without CUDA
"""
import logging

from mmengine.logging import print_log
from torch.distributed.elastic.multiprocessing.errors import record

from imbalanced_losses.openmmlab.checkpoints import check_checkpoint, require_safe_checkpoint_loading
from runner_setup import build_runner, load_config, parse_tool_args, tool_parser  # tools/runner_setup.py


def parse_args():
    parser = tool_parser("Train a detector or a segmentor", "train config file path")
    parser.add_argument("--amp", action="store_true", help="enable automatic-mixed-precision training")
    parser.add_argument("--auto-scale-lr", action="store_true", help="enable automatically scaling LR")
    parser.add_argument("--resume", nargs="?", type=str, const="auto",
                        help="resume from this checkpoint, or without a path from the latest one in the work dir")
    return parse_tool_args(parser)


@record  # under torchrun: a failing rank's traceback goes into the job's error summary
def main():
    args = parse_args()
    cfg = load_config(args)

    if args.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    if args.auto_scale_lr:
        if "auto_scale_lr" not in cfg or "base_batch_size" not in cfg.auto_scale_lr:
            raise RuntimeError('Can not find "auto_scale_lr.base_batch_size" in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == "auto":
        require_safe_checkpoint_loading(f"(the latest in {cfg.work_dir})")
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        check_checkpoint(args.resume)
        cfg.resume = True
        cfg.load_from = args.resume
    elif cfg.get("load_from"):
        check_checkpoint(cfg.load_from)

    hooks = cfg.get("custom_hooks") or []
    if args.resume is not None and not any(hook.get("type") == "ExactResumeHook" for hook in hooks):
        print_log("--resume: the config has no ExactResumeHook, so the resumed run's random streams are new and it "
                  "will not end where an uninterrupted run would (docs/guides/tools.md, 'Resuming')", logger="current",
                  level=logging.WARNING)

    build_runner(cfg).train()


if __name__ == "__main__":
    main()
