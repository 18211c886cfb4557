"""Evaluate a checkpoint with the config's evaluator: a detector (COCO mAP, mmdet's flags) or a
segmentor (mIoU, mmseg's flags; a config whose default_scope is 'mmseg').

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show-dir DIR]
    tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [...]

``--show-dir`` saves pictures: predicted boxes under the work dir's timestamped folder
(detection), or image | ground truth | prediction under the work dir's ``<show-dir>/vis_data/
vis_image`` (segmentation, with our configs' ``ImageGtPredVisualizer``).
``--out`` (detection) dumps the raw predictions to a pickle file.

The checkpoint is loaded with torch's weights_only=True plus an allow-list of the types that
mmengine writes (see imbalanced_losses.openmmlab.checkpoints): a file holding anything else is refused.
"""
import os

from torch.distributed.elastic.multiprocessing.errors import record

from imbalanced_losses.openmmlab.checkpoints import check_checkpoint
from runner_setup import build_runner, load_config, parse_tool_args, tool_parser  # tools/runner_setup.py


def parse_args():
    parser = tool_parser("Test (and eval) a detector or a segmentor", "test config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--out", type=str, help="dump raw predictions to this pickle file (.pkl)")
    parser.add_argument("--show", action="store_true", help="show prediction results")
    parser.add_argument("--show-dir", help="save pictures of the predictions, under the work dir's timestamped "
                                           "folder")
    parser.add_argument("--wait-time", type=float, default=2, help="the interval of show (s)")
    args = parse_tool_args(parser)
    if args.out is not None and not args.out.endswith((".pkl", ".pickle")):
        parser.error(f"--out must be a .pkl or .pickle file, got {args.out}")
    return args


@record  # under torchrun: a failing rank's traceback goes into the job's error summary
def main():
    args = parse_args()
    check_checkpoint(args.checkpoint)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    segmentation = cfg.get("default_scope") == "mmseg"
    if segmentation and args.out is not None:
        raise SystemExit(f"error: --out is for detection configs; {args.config} is a segmentation config")
    if args.show or args.show_dir:
        if segmentation:
            show_segmentation(cfg, args)
        else:
            from mmdet.engine.hooks.utils import trigger_visualization_hook
            cfg = trigger_visualization_hook(cfg, args)

    runner = build_runner(cfg)
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    runner.test()


def show_segmentation(cfg, args):
    """mmseg's tools/test.py does the same: draw in the visualization hook, save under show-dir."""
    hook = cfg.default_hooks.get("visualization")
    if hook is None:
        raise SystemExit("error: --show/--show-dir need default_hooks.visualization (SegVisualizationHook)")
    hook["draw"] = True
    if args.show:
        hook["show"] = True
        hook["wait_time"] = args.wait_time
    if args.show_dir:  # relative: under the work dir (mmseg's own would write it under the current folder)
        cfg.visualizer["save_dir"] = os.path.join(cfg.work_dir, args.show_dir)


if __name__ == "__main__":
    main()
