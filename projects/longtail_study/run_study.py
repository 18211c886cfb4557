"""The long-tail study's runner: train and evaluate every variant over several seeds, save one
JSON record per finished run, then let ``report.py`` write docs/study.md and its plots.

    python projects/longtail_study/run_study.py               # run what is missing (resumable), then report
    python projects/longtail_study/run_study.py --plots-only  # report from the committed JSON, no training
    python projects/longtail_study/run_study.py --quick       # smoke test: tiny data, 2 iterations per variant
    python projects/longtail_study/run_study.py --timing 2    # also measure iteration times: 2 interleaved rounds
    python projects/longtail_study/run_study.py --variants frcnn-ce frcnn-seesaw --seeds 0 1   # a subset

Variants and families are data (``variants.py``), each family's task kind an object
(``tasks.py``): one-stage detection (the CPU RetinaNet; baseline mmdet's sigmoid FocalLoss),
two-stage detection (the CPU Faster R-CNN; baseline mmdet's stock softmax CE in the RoI head) and
semantic segmentation (a CPU UNet in mmseg; baseline mmseg's CrossEntropyLoss), each compared
within itself. Each finished run is saved as ``results/runs/<variant>_seed<seed>.json`` (metrics,
per-class AP or IoU, iteration time, loss curve, machine) and skipped on the next call; checkpoints
and logs stay in ``work_dirs/study`` and are deleted after evaluation. The iteration times of long
runs are disturbed by whatever else the machine does, so ``--timing N`` measures them separately:
every variant trains one epoch (detection) or 100 iterations (segmentation), in N interleaved
rounds, back to back (``results/<prefix>timing.json``); the report's time ratios use them when
they exist. The seed changes initialisation and data order, never the data (seed 0). Runs one
after another, each on all threads.
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

# The project's own modules, found beside this script (Python puts a script's folder on sys.path).
from numerics import check_probe, machine, pinned_environment
from report import report
from tasks import QUICK_COMMON
from variants import FAMILIES, SEEDS, TRAINABLE, VARIANTS

PROJECT = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(PROJECT))
TOOLS = osp.join(ROOT, "tools")
RESULTS = osp.join(PROJECT, "results")  # the records, timing files and hand-written conclusions
DOCS = osp.join(ROOT, "docs")  # the generated page (study.md) and its plots (study/)

# The study's recipes were frozen before the configs gained ExactResumeHook (seeded streams, loader
# workers restarted every epoch); its runs keep the random streams of the frozen recipes, so that
# new runs pair with the committed ones seed for seed. An interrupted study run starts over anyway.
FROZEN_STREAM_OPTIONS = ["custom_hooks=[]", "train_dataloader.persistent_workers=True"]


def run(command, cwd, log_path):
    """Run a subprocess, under the study's pinned numerics (``numerics.PINNED_ENV``), with its output
    in ``log_path``; raise with the log's tail if it fails."""
    with open(log_path, "w") as log:
        result = subprocess.run(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=pinned_environment())
    if result.returncode != 0:
        tail = open(log_path).read()[-3000:]
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}); see {log_path}:\n{tail}")


def ensure_data(family, cwd, scale, profile=None, data=None):
    """Generate the family's data (or ``profile``'s into ``data``) unless it is there."""
    spec = FAMILIES[family]
    profile, data = profile or spec.profile, data or spec.data
    if not spec.task.data_ready(osp.join(cwd, data)):
        os.makedirs(osp.join(cwd, data), exist_ok=True)
        run([sys.executable, osp.join(TOOLS, "generate_shapes_dataset.py"), "--profile", profile,
             "--out", data, "--seed", "0", "--scale", str(scale)], cwd, osp.join(cwd, data, "generate.log"))


def latest(pattern):
    paths = sorted(glob.glob(pattern), key=os.path.getmtime)
    if not paths:
        raise RuntimeError(f"nothing matches {pattern}")
    return paths[-1]


def read_training_log(work_dir, task):
    """Loss curve (the task's losses) and the median logged iteration time (mmengine's window
    average) after warm-up."""
    entries = [json.loads(line) for line in open(latest(osp.join(work_dir, "*", "vis_data", "scalars.json")))]
    entries = [e for e in entries if "loss" in e and "iter" in e]
    curve = [task.curve_point(e) for e in entries]
    times = [e["time"] for e in entries[1:]] or [e["time"] for e in entries]  # first window: start-up
    return curve, statistics.median(times)


def train_and_evaluate(variant, seed, cwd, work_root, extra_options, data=None, numerics_probe=""):
    """Train and evaluate one run; ``data``: the data folder the options point the config at, if
    not the family's (its class statistics go into the record); ``numerics_probe``: what the probe
    said on this machine (recorded)."""
    spec = FAMILIES[VARIANTS[variant].family]
    config = osp.join(ROOT, VARIANTS[variant].config)
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
    curve, iteration_seconds = read_training_log(work_dir, spec.task)
    for path in glob.glob(osp.join(work_dir, "*.pth")):
        os.remove(path)  # weights are not part of the results
    record = dict(variant=variant, seed=seed, config=VARIANTS[variant].config)
    record.update(spec.task.results(metrics, f"{variant} seed {seed} ({test_dir})"))
    record.update(classes=spec.task.class_statistics(osp.join(cwd, data or spec.data)),
                  iteration_seconds=iteration_seconds,
                  train_seconds=round(train_seconds, 1), loss_curve=curve, machine=machine(),
                  numerics_probe=numerics_probe)
    return record


def time_iterations(variant, cwd, work_root, extra_options, quick=False):
    """Median logged seconds per iteration (no evaluation, no checkpoint) over the task's timing
    length (detection: one epoch; segmentation: 100 iterations, 20 with ``quick``), and the last
    logged iteration."""
    task = FAMILIES[VARIANTS[variant].family].task
    config = osp.join(ROOT, VARIANTS[variant].config)
    work_dir = osp.join(work_root, f"timing_{variant}")
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    options = (FROZEN_STREAM_OPTIONS + extra_options + list(task.timing_options)
               + list(task.quick_timing_options if quick else ()) + ["default_hooks.checkpoint.save_last=False"])
    run([sys.executable, osp.join(TOOLS, "train.py"), config, "--work-dir", work_dir, "--cfg-options"]
        + options, cwd, osp.join(work_dir, "train.log"))
    curve, seconds = read_training_log(work_dir, task)
    shutil.rmtree(work_dir, ignore_errors=True)
    return seconds, curve[-1]["iter"]


def train_missing_runs(args, runs_dir, cwd):
    # seed-major: a partial study still covers every variant
    missing = [(variant, seed) for seed in args.seeds for variant in args.variants
               if not osp.exists(osp.join(runs_dir, f"{variant}_seed{seed}.json"))]
    if not missing:
        print("every run asked for has its record", flush=True)
        return
    numerics_probe = "not run (--quick)"
    if not args.quick:
        # Before hours of training: would this machine's runs pair with the committed ones?
        matches, numerics_probe = check_probe()
        print(numerics_probe, flush=True)
        if not matches and not args.unpaired_numerics:
            raise SystemExit(numerics_probe + "; --unpaired-numerics trains anyway (its records say so)")
    for variant, seed in missing:
        path = osp.join(runs_dir, f"{variant}_seed{seed}.json")
        print(f"train {variant} seed {seed} ...", flush=True)
        record = train_and_evaluate(variant, seed, cwd, args.work_root, quick_options(variant, args),
                                    numerics_probe=numerics_probe)
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
                                                                 quick_options(variant, args), args.quick)
            seconds[variant].append(per_iteration)
            print(f"timing round {round_index + 1}: {variant} {per_iteration:.3f} s/iter", flush=True)
    for family, spec in FAMILIES.items():
        measured = [v for v in args.variants if VARIANTS[v].family == family]
        if not measured:
            continue
        path = osp.join(args.results, spec.prefix + "timing.json")
        previous = json.load(open(path)) if osp.exists(path) else {}
        if previous.get("rounds") != args.timing:
            previous = {}  # rounds of another count are not comparable
        per_iteration = dict(previous.get("seconds_per_iteration", {}), **{v: seconds[v] for v in measured})
        counts = previous.get("last_logged_iteration")
        counts = dict(counts if isinstance(counts, dict) else {}, **{v: iterations[v] for v in measured})  # 0.1: int
        with open(path, "w") as f:
            json.dump(dict(rounds=args.timing, last_logged_iteration=counts, seconds_per_iteration=per_iteration,
                           machine=machine()), f, indent=1)


def quick_options(variant, args):
    """--quick: the task's shortest schedule, no worker processes."""
    return list(FAMILIES[VARIANTS[variant].family].task.quick_options) + QUICK_COMMON if args.quick else []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots-only", action="store_true", help="report from the saved JSON, train nothing")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: tiny data, 2 iterations of every variant, one seed, in a temp dir")
    parser.add_argument("--timing", type=int, metavar="ROUNDS",
                        help="after the runs, measure iteration times: ROUNDS interleaved rounds of one epoch "
                             "(segmentation: 100 iterations) per variant, back to back")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--variants", nargs="+", choices=TRAINABLE, default=TRAINABLE,
                        help="(retired variants are reported from their records, not trained)")
    parser.add_argument("--results", default=RESULTS,
                        help="the records (runs/), timing files and conclusions (default: %(default)s)")
    parser.add_argument("--docs", default=DOCS, help="where study.md and the plots (study/) go (default: %(default)s)")
    parser.add_argument("--work-root", default=osp.join(ROOT, "work_dirs", "study"))
    parser.add_argument("--unpaired-numerics", action="store_true",
                        help="train even where the numerics probe differs from the committed one (the records "
                             "say so; their seeds do not pair with the committed runs')")
    args = parser.parse_args()

    cwd, scale = ROOT, 1.0
    if args.quick:
        cwd = tempfile.mkdtemp(prefix="study_quick_")
        args.results, args.docs = osp.join(cwd, "results"), osp.join(cwd, "docs")
        args.work_root, args.seeds, scale = osp.join(cwd, "work"), [0], 0.01
    runs_dir = osp.join(args.results, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    if not args.plots_only:
        for family in dict.fromkeys(VARIANTS[v].family for v in args.variants):
            ensure_data(family, cwd, max(scale, FAMILIES[family].task.min_quick_scale))
        os.makedirs(args.work_root, exist_ok=True)
        train_missing_runs(args, runs_dir, cwd)
        if args.timing:
            measure_timing(args, cwd)
    if not report(args.results, args.docs):
        raise SystemExit(f"no runs in {runs_dir}: run without --plots-only first")
    print(f"wrote {osp.join(args.docs, 'study.md')} and the plots in {osp.join(args.docs, 'study')}")


if __name__ == "__main__":
    main()
