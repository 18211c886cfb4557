"""The long-tail study's runner: train and evaluate every variant over several seeds, save one
JSON record per finished run, then let ``study_report.py`` write docs/study.md and its plots.

    python tools/run_study.py                  # run what is missing (resumable), then report
    python tools/run_study.py --plots-only     # report from the committed JSON, no training
    python tools/run_study.py --quick          # smoke test: tiny data, 2 iterations per variant
    python tools/run_study.py --timing 2       # also measure iteration times: 2 interleaved rounds
    python tools/run_study.py --variants frcnn-ce frcnn-seesaw --seeds 0 1   # a subset

Variants and families are data (``study_variants.py``): one-stage detection (the CPU RetinaNet;
baseline mmdet's sigmoid FocalLoss), two-stage detection (the CPU Faster R-CNN; baseline mmdet's
stock softmax CE in the RoI head) and semantic segmentation (a CPU UNet in mmseg; baseline mmseg's
CrossEntropyLoss), each compared within itself. Each finished run is saved as
``docs/study/runs/<variant>_seed<seed>.json`` (metrics, per-class AP or IoU, iteration time, loss
curve, machine) and skipped on the next call; checkpoints and logs stay in ``work_dirs/study``
and are deleted after evaluation. The iteration times of long runs are disturbed by whatever
else the machine does, so ``--timing N`` measures them separately: every variant trains one
epoch (detection) or 100 iterations (segmentation), in N interleaved rounds, back to back
(``docs/study/<prefix>timing.json``); the report's time ratios use them when they exist. The
seed changes initialisation and data order, never the data (seed 0). Runs one after another,
each on all threads.
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

TOOLS = osp.join(ROOT, "tools")
sys.path.insert(0, TOOLS)
from study_report import machine, report  # noqa: E402
from study_variants import FAMILIES, SEEDS, VARIANTS  # noqa: E402

SEGMENTATION_TIMING_ITERATIONS = 100
# The study's recipes were frozen before the configs gained ExactResumeHook (seeded streams, loader
# workers restarted every epoch); its runs keep the random streams of the frozen recipes, so that
# new runs pair with the committed ones seed for seed. An interrupted study run starts over anyway.
FROZEN_STREAM_OPTIONS = ["custom_hooks=[]", "train_dataloader.persistent_workers=True"]


def run(command, cwd, log_path):
    """Run a subprocess with its output in ``log_path``; raise with the log's tail if it fails."""
    with open(log_path, "w") as log:
        result = subprocess.run(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")))
    if result.returncode != 0:
        tail = open(log_path).read()[-3000:]
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}); see {log_path}:\n{tail}")


def ensure_data(family, cwd, scale):
    spec = FAMILIES[family]
    marker = "annotations/val.json" if spec.kind == "detection" else "class_stats.json"
    if not osp.exists(osp.join(cwd, spec.data, marker)):
        os.makedirs(osp.join(cwd, spec.data), exist_ok=True)
        run([sys.executable, osp.join(TOOLS, "generate_shapes_dataset.py"), "--profile", spec.profile,
             "--out", spec.data, "--seed", "0", "--scale", str(scale)], cwd, osp.join(cwd, spec.data, "generate.log"))


def latest(pattern):
    paths = sorted(glob.glob(pattern), key=os.path.getmtime)
    if not paths:
        raise RuntimeError(f"nothing matches {pattern}")
    return paths[-1]


def read_training_log(work_dir, kind):
    """Loss curve and the median logged iteration time (mmengine's window average) after warm-up.
    Detection: the classification and box losses; segmentation: the decode and auxiliary heads'."""
    entries = [json.loads(line) for line in open(latest(osp.join(work_dir, "*", "vis_data", "scalars.json")))]
    entries = [e for e in entries if "loss" in e and "iter" in e]
    if kind == "detection":
        for e in entries:  # SeesawLoss logs its classification loss in two parts
            if "loss_cls" not in e and "loss_cls_classes" in e:
                e["loss_cls"] = e["loss_cls_classes"] + e["loss_cls_objectness"]
        curve = [dict(iter=e["iter"], loss=e["loss"], loss_cls=e.get("loss_cls"), loss_bbox=e.get("loss_bbox"))
                 for e in entries]
    else:  # mmseg logs decode.<loss_name> and aux.<loss_name>
        def head_loss(entry, head):
            return sum(v for k, v in entry.items() if k.startswith(head + ".loss_"))
        curve = [dict(iter=e["iter"], loss=e["loss"], decode=head_loss(e, "decode"), aux=head_loss(e, "aux"))
                 for e in entries]
    times = [e["time"] for e in entries[1:]] or [e["time"] for e in entries]  # first window: start-up
    return curve, statistics.median(times)


def train_and_evaluate(variant, seed, cwd, work_root, extra_options):
    spec = FAMILIES[VARIANTS[variant].family]
    config = osp.join(ROOT, "configs", VARIANTS[variant].config)
    work_dir = osp.join(work_root, f"{variant}_seed{seed}")
    shutil.rmtree(work_dir, ignore_errors=True)  # an interrupted run starts over
    os.makedirs(work_dir)
    options = [f"randomness.seed={seed}"] + extra_options
    start = time.time()
    run([sys.executable, osp.join(TOOLS, "train.py"), config, "--work-dir", work_dir,
         "--cfg-options"] + FROZEN_STREAM_OPTIONS + options, cwd, osp.join(work_dir, "train.log"))
    train_seconds = time.time() - start
    checkpoint = open(osp.join(work_dir, "last_checkpoint")).read().strip()
    test_dir = osp.join(work_dir, "test")
    run([sys.executable, osp.join(TOOLS, "test.py"), config, checkpoint, "--work-dir", test_dir,
         "--cfg-options"] + options, cwd, osp.join(work_dir, "test.log"))
    metrics = json.load(open(latest(osp.join(test_dir, "*", "*.json"))))
    curve, iteration_seconds = read_training_log(work_dir, spec.kind)
    for path in glob.glob(osp.join(work_dir, "*.pth")):
        os.remove(path)  # weights are not part of the results
    record = dict(variant=variant, seed=seed, config=osp.relpath(config, ROOT))
    if spec.kind == "detection":
        if "coco/bbox_mAP" not in metrics:  # CocoMetric returns nothing when there is no detection at all
            raise RuntimeError(f"{variant} seed {seed}: no bbox metrics in {test_dir} (no detections?): {metrics}")
        record.update(
            metrics={name: metrics[f"coco/bbox_{key}"] for name, key in
                     (("AP", "mAP"), ("AP50", "mAP_50"), ("AP75", "mAP_75"), ("APr", "APr"), ("APc", "APc"),
                      ("APf", "APf"))},
            per_class_AP=metrics["coco/bbox_per_class_AP"])
    else:
        if "mIoU" not in metrics:
            raise RuntimeError(f"{variant} seed {seed}: no IoU metrics in {test_dir}: {metrics}")
        record.update(metrics={name: metrics[name] for name in ("mIoU", "mIoU_r", "mIoU_c", "mIoU_f", "aAcc", "mAcc")},
                      per_class_IoU={k[len("IoU."):]: v for k, v in metrics.items() if k.startswith("IoU.")})
    record.update(classes=class_statistics(cwd, spec), iteration_seconds=iteration_seconds,
                  train_seconds=round(train_seconds, 1), loss_curve=curve, machine=machine())
    return record


def time_iterations(variant, cwd, work_root, extra_options):
    """Median logged seconds per iteration (no evaluation, no checkpoint) over one epoch
    (detection) or SEGMENTATION_TIMING_ITERATIONS iterations, and the last logged iteration."""
    spec = FAMILIES[VARIANTS[variant].family]
    config = osp.join(ROOT, "configs", VARIANTS[variant].config)
    work_dir = osp.join(work_root, f"timing_{variant}")
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    if spec.kind == "detection":
        length = ["train_cfg.max_epochs=1", "train_cfg.val_begin=2", "default_hooks.checkpoint.interval=2"]
    else:
        n = SEGMENTATION_TIMING_ITERATIONS
        length = [f"train_cfg.max_iters={n}", f"train_cfg.val_interval={n + 1}",
                  f"default_hooks.checkpoint.interval={n + 1}"]
    options = FROZEN_STREAM_OPTIONS + extra_options + length + ["default_hooks.checkpoint.save_last=False"]
    run([sys.executable, osp.join(TOOLS, "train.py"), config, "--work-dir", work_dir, "--cfg-options"]
        + options, cwd, osp.join(work_dir, "train.log"))
    curve, seconds = read_training_log(work_dir, spec.kind)
    shutil.rmtree(work_dir, ignore_errors=True)
    return seconds, curve[-1]["iter"]


def class_statistics(cwd, spec):
    """name -> training images holding the class and its LVIS group (from the training split)."""
    if spec.kind == "segmentation":
        stats = json.load(open(osp.join(cwd, spec.data, "class_stats.json")))
        train = stats["train"]
        return {name: dict(images=n, group=g, pixel_share=share) for name, n, g, share in
                zip(stats["classes"], train["image_count"], train["groups"], train["pixel_share"])}
    from imbalanced_losses.openmmlab.annotations import class_counts, groups_by_name
    train = osp.join(cwd, spec.data, "annotations", "train.json")
    groups = groups_by_name(train)  # file order, as the counts
    images = class_counts(train, count="images")
    return {name: dict(images=n, group=g) for (name, g), n in zip(groups.items(), images)}


def train_missing_runs(args, runs_dir, cwd):
    for seed in args.seeds:  # seed-major: a partial study still covers every variant
        for variant in args.variants:
            path = osp.join(runs_dir, f"{variant}_seed{seed}.json")
            if osp.exists(path):
                print(f"skip {variant} seed {seed}: {osp.relpath(path)} exists", flush=True)
                continue
            print(f"train {variant} seed {seed} ...", flush=True)
            record = train_and_evaluate(variant, seed, cwd, args.work_root, quick_options(variant, args))
            with open(path + ".tmp", "w") as f:
                json.dump(record, f, indent=1)
            os.replace(path + ".tmp", path)  # a finished run is all or nothing
            print(f"done {variant} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in record["metrics"].items())
                  + f", {record['iteration_seconds']:.3f} s/iter", flush=True)


def measure_timing(args, cwd):
    """Interleaved rounds; each family's timing file gets its variants' seconds per iteration and
    their own iteration counts (measured now), merged into what the file held for other variants."""
    seconds, iterations = {v: [] for v in args.variants}, {}
    for round_index in range(args.timing):
        for variant in args.variants:
            per_iteration, iterations[variant] = time_iterations(variant, cwd, args.work_root,
                                                                 quick_options(variant, args))
            seconds[variant].append(per_iteration)
            print(f"timing round {round_index + 1}: {variant} {per_iteration:.3f} s/iter", flush=True)
    for family, spec in FAMILIES.items():
        measured = [v for v in args.variants if VARIANTS[v].family == family]
        if not measured:
            continue
        path = osp.join(args.out, spec.prefix + "timing.json")
        previous = json.load(open(path)) if osp.exists(path) else {}
        if previous.get("rounds") != args.timing:
            previous = {}  # rounds of another count are not comparable
        per_iteration = dict(previous.get("seconds_per_iteration", {}), **{v: seconds[v] for v in measured})
        counts = previous.get("last_logged_iteration")
        counts = dict(counts if isinstance(counts, dict) else {}, **{v: iterations[v] for v in measured})  # 0.1: int
        with open(path, "w") as f:
            json.dump(dict(rounds=args.timing, last_logged_iteration=counts, seconds_per_iteration=per_iteration,
                           machine=machine()), f, indent=1)


QUICK_OPTIONS = {  # --quick: 2 iterations (detection: 1 epoch of the tiny data), no worker processes
    "detection": ["train_cfg.max_epochs=1", "train_dataloader.batch_size=8", "model.test_cfg.score_thr=0.0",
                  "model.test_cfg.rcnn.score_thr=0.0"],
    "segmentation": ["train_cfg.max_iters=2", "train_cfg.val_interval=2", "default_hooks.checkpoint.interval=2",
                     "train_dataloader.batch_size=2"],
}
QUICK_COMMON = ["train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False",
                "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
                "default_hooks.logger.interval=1"]


def quick_options(variant, args):
    return QUICK_OPTIONS[FAMILIES[VARIANTS[variant].family].kind] + QUICK_COMMON if args.quick else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots-only", action="store_true", help="report from the saved JSON, train nothing")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: tiny data, 2 iterations of every variant, one seed, in a temp dir")
    parser.add_argument("--timing", type=int, metavar="ROUNDS",
                        help="after the runs, measure iteration times: ROUNDS interleaved rounds of one epoch "
                             "(segmentation: 100 iterations) per variant, back to back")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", default=osp.join(ROOT, "docs", "study"), help="results and plots folder")
    parser.add_argument("--work-root", default=osp.join(ROOT, "work_dirs", "study"))
    args = parser.parse_args()

    cwd, scale = ROOT, 1.0
    if args.quick:
        cwd = tempfile.mkdtemp(prefix="study_quick_")
        args.out, args.work_root, args.seeds, scale = osp.join(cwd, "docs", "study"), osp.join(cwd, "work"), [0], 0.01
    runs_dir = osp.join(args.out, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    if not args.plots_only:
        for family in dict.fromkeys(VARIANTS[v].family for v in args.variants):
            ensure_data(family, cwd, scale if FAMILIES[family].kind == "detection" else max(scale, 0.05))
        os.makedirs(args.work_root, exist_ok=True)
        train_missing_runs(args, runs_dir, cwd)
        if args.timing:
            measure_timing(args, cwd)
    if not report(args.out, runs_dir):
        raise SystemExit(f"no runs in {runs_dir}: run without --plots-only first")
    print(f"wrote {osp.join(osp.dirname(args.out), 'study.md')} and the plots in {args.out}")


if __name__ == "__main__":
    main()
