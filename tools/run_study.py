"""The long-tail study: train and evaluate every loss variant over several seeds on the longtail
profile of the bundled data, then write docs/study.md and its plots.

    python tools/run_study.py                  # run what is missing (resumable), then report
    python tools/run_study.py --plots-only     # report from the committed JSON, no training
    python tools/run_study.py --quick          # smoke test: tiny data, 2 iterations per variant
    python tools/run_study.py --timing 2       # also measure iteration times: 2 interleaved rounds of 1 epoch
    python tools/run_study.py --variants frcnn-ce frcnn-seesaw --seeds 0 1   # a subset

Two families of variants, each compared within itself: one-stage (the CPU RetinaNet; baseline
mmdet's sigmoid FocalLoss) and two-stage (the CPU Faster R-CNN; baseline mmdet's stock softmax
CE in the RoI head). Each finished run is saved as ``docs/study/runs/<variant>_seed<seed>.json``
(metrics, per-class AP, iteration time, loss curve, machine) and skipped on the next call;
checkpoints and logs stay in ``work_dirs/study`` and are deleted after evaluation. The iteration
times of long runs are disturbed by whatever else the machine does, so ``--timing N`` measures
them separately: every variant trains one epoch, in N interleaved rounds, back to back
(``docs/study/timing.json``, ``two_stage_timing.json``); the report's time ratios use them when
they exist. Every variant of a family uses the same schedule
(``configs/_base_/retinanet_r18-half_fpn_shapes-longtail.py``, which the two-stage base inherits)
and the same data (seed 0); the seed changes initialisation and data order. Runs one after
another, each on all threads.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
from imbalanced_losses.frequency_groups import COMMON_MAX_IMAGES, RARE_MAX_IMAGES  # noqa: E402

CONFIG_DIR = osp.join(ROOT, "configs", "longtail")
# name -> (config, label, family). Each family is compared within itself, against its baseline.
VARIANTS = {
    "sigmoid-focal": ("retinanet_r18-half_fpn_sigmoid-focal_longtail.py", "sigmoid focal (mmdet's FocalLoss)",
                      "one-stage"),
    "softmax-ce": ("retinanet_r18-half_fpn_softmax-ce_longtail.py", "softmax CE", "one-stage"),
    "softmax-focal": ("retinanet_r18-half_fpn_softmax-focal_longtail.py", "softmax focal (ours, 0.75/0.25)",
                      "one-stage"),
    "softmax-focal-cb": ("retinanet_r18-half_fpn_softmax-focal-cb_longtail.py",
                         "softmax focal (ours, class-balanced alpha)", "one-stage"),
    "frcnn-ce": ("faster-rcnn_r18-half_fpn_ce_longtail.py", "Faster R-CNN, softmax CE (mmdet's stock)", "two-stage"),
    "frcnn-seesaw": ("faster-rcnn_r18-half_fpn_seesaw_longtail.py", "Faster R-CNN, SeesawLoss (mmdet's)",
                     "two-stage"),
    "frcnn-softmax-focal": ("faster-rcnn_r18-half_fpn_softmax-focal_longtail.py", "Faster R-CNN, ours",
                            "two-stage"),
    "frcnn-softmax-focal-cb": ("faster-rcnn_r18-half_fpn_softmax-focal-cb_longtail.py",
                               "Faster R-CNN, ours + class-balanced alpha", "two-stage"),
    "frcnn-softmax-focal-prior": ("faster-rcnn_r18-half_fpn_softmax-focal-prior_longtail.py",
                                  "Faster R-CNN, ours + background prior in fc_cls", "two-stage"),
}
# family -> baseline of its time ratios and AP differences, file prefix of its plots, timing file
# and conclusion (a hand-written ``<prefix>conclusion.md``), and its section of study.md.
FAMILIES = {
    "one-stage": dict(
        baseline="sigmoid-focal", prefix="", short="sigmoid", title="## One-stage: RetinaNet",
        setup="The CPU RetinaNet of the demo (ResNet-18 at half width, from scratch), the same schedule for every "
              "variant (`configs/_base_/retinanet_r18-half_fpn_shapes-longtail.py`), only `loss_cls` (and, for "
              "ours, the softmax head) differs."),
    "two-stage": dict(
        baseline="frcnn-ce", prefix="two_stage_", short="stock CE", title="## Two-stage: Faster R-CNN",
        setup="A Faster R-CNN with the same backbone (ResNet-18 at half width, from scratch), data, schedule and "
              "evaluation (`configs/_base_/faster-rcnn_r18-half_fpn_shapes-longtail.py`: RPN, RoIAlign, mmdet's "
              "stock `Shared2FCBBoxHead` with K + 1 softmax outputs, background last, 64 RoIs per image sampled "
              "with at most 25% positives); only `roi_head.bbox_head.loss_cls` differs (and, for the prior "
              "variant, the initial bias of `fc_cls`). Configs: `configs/longtail/faster-rcnn_*`."),
}
COLOURS = ("tab:grey", "tab:blue", "tab:orange", "tab:green", "tab:red")
SEEDS = (0, 1, 2)
DATA = "data/shapes_longtail"
METRICS = ("AP", "AP50", "APr", "APc", "APf")


def run(command, cwd, log_path):
    """Run a subprocess with its output in ``log_path``; raise with the log's tail if it fails."""
    with open(log_path, "w") as log:
        result = subprocess.run(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                env=dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")))
    if result.returncode != 0:
        tail = open(log_path).read()[-3000:]
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}); see {log_path}:\n{tail}")


def ensure_data(cwd, scale):
    if not osp.exists(osp.join(cwd, DATA, "annotations", "val.json")):
        os.makedirs(osp.join(cwd, DATA), exist_ok=True)
        run([sys.executable, osp.join(ROOT, "tools", "generate_shapes_dataset.py"), "--profile", "longtail",
             "--out", DATA, "--seed", "0", "--scale", str(scale)], cwd, osp.join(cwd, DATA, "generate.log"))


def latest(pattern):
    paths = sorted(glob.glob(pattern), key=os.path.getmtime)
    if not paths:
        raise RuntimeError(f"nothing matches {pattern}")
    return paths[-1]


def read_training_log(work_dir):
    """Loss curve and the median logged iteration time (mmengine's window average) after warm-up."""
    entries = [json.loads(line) for line in open(latest(osp.join(work_dir, "*", "vis_data", "scalars.json")))]
    entries = [e for e in entries if "loss" in e and "iter" in e]
    for e in entries:  # SeesawLoss logs its classification loss in two parts
        if "loss_cls" not in e and "loss_cls_classes" in e:
            e["loss_cls"] = e["loss_cls_classes"] + e["loss_cls_objectness"]
    curve = [dict(iter=e["iter"], loss=e["loss"], loss_cls=e.get("loss_cls"), loss_bbox=e.get("loss_bbox"))
             for e in entries]
    times = [e["time"] for e in entries[1:]] or [e["time"] for e in entries]  # first window: start-up
    return curve, statistics.median(times)


def train_and_evaluate(variant, seed, cwd, work_root, extra_options):
    config = osp.join(CONFIG_DIR, VARIANTS[variant][0])
    work_dir = osp.join(work_root, f"{variant}_seed{seed}")
    shutil.rmtree(work_dir, ignore_errors=True)  # an interrupted run starts over
    os.makedirs(work_dir)
    options = [f"randomness.seed={seed}"] + extra_options
    start = time.time()
    run([sys.executable, osp.join(ROOT, "tools", "train.py"), config, "--work-dir", work_dir,
         "--cfg-options"] + options, cwd, osp.join(work_dir, "train.log"))
    train_seconds = time.time() - start
    checkpoint = open(osp.join(work_dir, "last_checkpoint")).read().strip()
    test_dir = osp.join(work_dir, "test")
    run([sys.executable, osp.join(ROOT, "tools", "test.py"), config, checkpoint, "--work-dir", test_dir,
         "--cfg-options"] + options, cwd, osp.join(work_dir, "test.log"))
    metrics = json.load(open(latest(osp.join(test_dir, "*", "*.json"))))
    if "coco/bbox_mAP" not in metrics:  # CocoMetric returns nothing when there is no detection at all
        raise RuntimeError(f"{variant} seed {seed}: no bbox metrics in {test_dir} (no detections?): {metrics}")
    curve, iteration_seconds = read_training_log(work_dir)
    for path in glob.glob(osp.join(work_dir, "*.pth")):
        os.remove(path)  # weights are not part of the results
    return dict(
        variant=variant, seed=seed, config=osp.relpath(config, ROOT),
        metrics={name: metrics[f"coco/bbox_{key}"] for name, key in
                 (("AP", "mAP"), ("AP50", "mAP_50"), ("AP75", "mAP_75"), ("APr", "APr"), ("APc", "APc"),
                  ("APf", "APf"))},
        per_class_AP=metrics["coco/bbox_per_class_AP"], classes=class_statistics(cwd),
        iteration_seconds=iteration_seconds, train_seconds=round(train_seconds, 1), loss_curve=curve,
        machine=machine())


def machine():
    return dict(processor=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                python=platform.python_version())


def time_iterations(variant, cwd, work_root, extra_options):
    """Median logged seconds per iteration over one epoch (no evaluation, no checkpoint) and the
    number of iterations."""
    config = osp.join(CONFIG_DIR, VARIANTS[variant][0])
    work_dir = osp.join(work_root, f"timing_{variant}")
    shutil.rmtree(work_dir, ignore_errors=True)
    os.makedirs(work_dir)
    options = extra_options + ["train_cfg.max_epochs=1", "train_cfg.val_begin=2", "default_hooks.checkpoint.interval=2",
                               "default_hooks.checkpoint.save_last=False"]
    run([sys.executable, osp.join(ROOT, "tools", "train.py"), config, "--work-dir", work_dir, "--cfg-options"]
        + options, cwd, osp.join(work_dir, "train.log"))
    curve, seconds = read_training_log(work_dir)
    shutil.rmtree(work_dir, ignore_errors=True)
    return seconds, curve[-1]["iter"]


def class_statistics(cwd):
    """name -> (training images, LVIS group), from the training annotation file."""
    from imbalanced_losses.mmdet.annotations import class_counts, groups_by_name
    train = osp.join(cwd, DATA, "annotations", "train.json")
    groups = groups_by_name(train)  # file order, as the counts
    images = class_counts(train, count="images")
    return {name: dict(images=n, group=g) for (name, g), n in zip(groups.items(), images)}


def mean_std(values):
    values = [v for v in values if v == v]  # drop NaN
    if not values:
        return float("nan"), float("nan")
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def mean_of(runs, metric):
    return mean_std([r["metrics"][metric] for r in runs])[0]


def load_runs(runs_dir):
    runs = {}
    for path in sorted(glob.glob(osp.join(runs_dir, "*.json"))):
        record = json.load(open(path))
        runs.setdefault(record["variant"], []).append(record)
    return runs


def report(out_dir, runs, classes):
    """Write the plots of every family with runs, and study.md, from the per-run records."""
    sections = []
    for family, spec in FAMILIES.items():
        variants = [v for v in VARIANTS if v in runs and VARIANTS[v][2] == family]
        if variants:
            ratios = plot_family(out_dir, spec, runs, classes, variants)
            sections.append(family_markdown(out_dir, spec, runs, classes, variants, ratios))
    write_markdown(out_dir, runs, classes, sections)


def plot_family(out_dir, spec, runs, classes, variants):
    """The family's four plots (``<prefix>per_class_ap.png`` ...); returns its time ratios."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(zip(variants, COLOURS))
    names = sorted(classes, key=lambda n: -classes[n]["images"])
    path = lambda name: osp.join(out_dir, spec["prefix"] + name)  # noqa: E731

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for offset, variant in enumerate(variants):
        per_seed = [[r["per_class_AP"][n] for n in names] for r in runs[variant]]
        means = [mean_std(values)[0] for values in zip(*per_seed)]
        spread = [mean_std(values)[1] for values in zip(*per_seed)]
        x = [classes[n]["images"] * 1.06 ** (offset - (len(variants) - 1) / 2) for n in names]  # dodge the markers
        ax.errorbar(x, means, yerr=spread, fmt="o", ms=4, capsize=2, color=colours[variant],
                    label=VARIANTS[variant][1])
    for bound in (RARE_MAX_IMAGES + 0.5, COMMON_MAX_IMAGES + 0.5):
        ax.axvline(bound, color="black", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training images containing the class (log); dotted: rare | common | frequent")
    ax.set_ylabel("AP (mean +- std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path("per_class_ap.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(1, len(variants))
    for i, variant in enumerate(variants):
        stats = [mean_std([r["metrics"][m] for r in runs[variant]]) for m in ("AP", "APr", "APc", "APf")]
        ax.bar([k + i * width for k in range(4)], [s[0] for s in stats], width, yerr=[s[1] for s in stats],
               capsize=3, color=colours[variant], label=VARIANTS[variant][1])
    ax.set_xticks([k + width * (len(variants) - 1) / 2 for k in range(4)], ["AP", "APr", "APc", "APf"])
    ax.set_ylabel("AP (mean +- std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path("group_ap.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for variant in variants:
        for ax, key in zip(axes, ("loss_cls", "loss_bbox")):
            curves = [[(p["iter"], p[key]) for p in r["loss_curve"] if p.get(key) is not None] for r in runs[variant]]
            length = min(len(c) for c in curves)
            iters = [p[0] for p in curves[0][:length]]
            values = [[c[j][1] for c in curves] for j in range(length)]
            ax.plot(iters, [statistics.fmean(v) for v in values], color=colours[variant], label=VARIANTS[variant][1])
            ax.fill_between(iters, [min(v) for v in values], [max(v) for v in values], color=colours[variant],
                            alpha=0.2)
    axes[0].set_yscale("log")
    for ax, title in zip(axes, ("classification loss (each variant's own scale)", "box loss")):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path("loss_curves.png"), dpi=110)
    plt.close(fig)

    ratios = time_ratios(out_dir, spec, runs, variants)
    if ratios:
        fig, ax = plt.subplots(figsize=(6, 3))
        stats = [mean_std(ratios[v]) for v in variants]
        ax.barh(range(len(variants)), [s[0] for s in stats], xerr=[s[1] for s in stats], capsize=3,
                color=[colours[v] for v in variants])
        ax.set_yticks(range(len(variants)), [VARIANTS[v][1] for v in variants], fontsize=8)
        ax.axvline(1.0, color="black", lw=0.6)
        ax.set_xlabel(f"training iteration time / {VARIANTS[spec['baseline']][1]}")
        fig.tight_layout()
        fig.savefig(path("iteration_time.png"), dpi=110)
        plt.close(fig)
    return ratios


def timing_path(out_dir, spec):
    return osp.join(out_dir, spec["prefix"] + "timing.json")


def time_ratios(out_dir, spec, runs, variants):
    """variant -> iteration time / the family baseline's, per round of its timing file (or per run)."""
    baseline = spec["baseline"]
    if osp.exists(timing_path(out_dir, spec)):
        rounds = json.load(open(timing_path(out_dir, spec)))["seconds_per_iteration"]  # variant -> [per round]
        if baseline in rounds:
            return {v: [t / b for t, b in zip(rounds[v], rounds[baseline])] for v in variants if v in rounds}
    if baseline not in runs:
        return {}
    base_time = statistics.fmean(r["iteration_seconds"] for r in runs[baseline])
    return {v: [r["iteration_seconds"] / base_time for r in runs[v]] for v in variants}


def cell(values, digits=3):
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def family_markdown(out_dir, spec, runs, classes, variants, ratios):
    baseline, short, prefix = spec["baseline"], spec["short"], spec["prefix"]
    conclusion = prefix + "conclusion.md"
    names = sorted(classes, key=lambda n: -classes[n]["images"])
    seeds = sorted({r["seed"] for v in variants for r in runs[v]})
    lines = [spec["title"], "", spec["setup"] + f" Seeds {seeds}.", "",
             f"| variant | runs | AP | AP50 | APr | APc | APf | iteration time / {short} |",
             "|---|---|---|---|---|---|---|---|"]
    for v in variants:
        rs = runs[v]
        time_cell = cell(ratios[v], 2) if v in ratios else "n/a"
        metric_cells = " | ".join(cell([r["metrics"][m] for r in rs]) for m in METRICS)
        lines.append(f"| {VARIANTS[v][1]} | {len(rs)} | " + metric_cells + f" | {time_cell} |")
    if baseline in runs:
        lines += ["", f"Differences to {VARIANTS[baseline][1]} (mean over seeds; the std of a difference of two "
                      "independent means is about sqrt(2) x the std above):", ""]
        for v in variants:
            if v == baseline:
                continue
            diffs = [f"{m} {mean_of(runs[v], m) - mean_of(runs[baseline], m):+.3f}" for m in METRICS]
            lines.append(f"- {VARIANTS[v][1]}: " + ", ".join(diffs))
    lines += ["", f"![AP by group](study/{prefix}group_ap.png)", "",
              f"![per-class AP against training frequency](study/{prefix}per_class_ap.png)", "",
              f"![training losses](study/{prefix}loss_curves.png)", "",
              f"![iteration time](study/{prefix}iteration_time.png)", "",
              "### Per-class AP (mean +- std over seeds)", "",
              "| class | group | train images | " + " | ".join(VARIANTS[v][1] for v in variants) + " |",
              "|---|---|---|" + "---|" * len(variants)]
    for n in names:
        lines.append(f"| {n} | {classes[n]['group']} | {classes[n]['images']} | "
                     + " | ".join(cell([r["per_class_AP"][n] for r in runs[v]]) for v in variants) + " |")
    minutes = sum(r["train_seconds"] for v in variants for r in runs[v]) / 60
    machines = sorted({f"{r['machine']['processor']}, {r['machine']['cpus']} CPUs" for v in variants for r in runs[v]})
    if osp.exists(timing_path(out_dir, spec)):
        timing = json.load(open(timing_path(out_dir, spec)))
        timing_note = (f"Iteration time ratios come from `--timing {timing['rounds']}`: every variant trained one "
                       f"epoch in each of {timing['rounds']} interleaved rounds, back to back on an otherwise idle "
                       "machine; per round, the median of mmengine's logged (10-iteration window) "
                       f"times after the first window, divided by the {short} variant's in the same round. Seconds "
                       "per iteration there: "
                       + ", ".join(f"{VARIANTS[v][1]} {statistics.fmean(t):.3f}"
                                   for v, t in timing["seconds_per_iteration"].items())
                       + ".")
    else:
        timing_note = ("Iteration time ratios are per run (median of mmengine's logged times after the first "
                       f"window) to the mean of the {short} runs; other work on the machine disturbs them.")
    lines += ["", f"Training time: {minutes:.0f} minutes of training over {sum(len(runs[v]) for v in variants)} "
                  f"runs (evaluation not included), on {'; '.join(machines)}. " + timing_note, ""]
    if osp.exists(osp.join(out_dir, conclusion)):
        lines += ["### Conclusion", "", open(osp.join(out_dir, conclusion)).read().strip(), ""]
    return lines


def write_markdown(out_dir, runs, classes, sections):
    names = sorted(classes, key=lambda n: -classes[n]["images"])
    groups = {g: [n for n in names if classes[n]["group"] == g] for g in "fcr"}
    lines = [
        "# Long-tail study: softmax focal vs sigmoid focal vs softmax CE (RetinaNet), vs CE and Seesaw (Faster R-CNN)",
        "",
        "Generated by `python tools/run_study.py` from the JSON records in `docs/study/runs/`",
        "(`--plots-only` rewrites this page and the plots without training).",
        "",
        "**Setup.** The longtail profile of the bundled data (`tools/generate_shapes_dataset.py --profile "
        "longtail --seed 0`): 16 confusable classes ({red, blue} x {circle, square, triangle, cross} x "
        f"{{solid, hollow}}), training instances from 1000 down to 3; by LVIS's rule (training images "
        f"holding the class) {len(groups['f'])} frequent, {len(groups['c'])} common and {len(groups['r'])} rare "
        "classes; val holds 60 instances of every class. Within a family every variant has the same model, "
        "schedule and data (seed 0); the seed changes initialisation and data order. "
        "AP is COCO's AP@[.5:.95]; APr/APc/APf are the mean AP over the classes of each group "
        "(`LongTailCocoMetric`). Mean +- std over seeds (sample std).",
        "",
    ]
    for section in sections:
        lines += section
    with open(osp.join(osp.dirname(out_dir), "study.md"), "w") as f:
        f.write("\n".join(lines))


def train_missing_runs(args, runs_dir, cwd, extra_options):
    for seed in args.seeds:  # seed-major: a partial study still covers every variant
        for variant in args.variants:
            path = osp.join(runs_dir, f"{variant}_seed{seed}.json")
            if osp.exists(path):
                print(f"skip {variant} seed {seed}: {osp.relpath(path)} exists", flush=True)
                continue
            print(f"train {variant} seed {seed} ...", flush=True)
            record = train_and_evaluate(variant, seed, cwd, args.work_root, extra_options)
            with open(path + ".tmp", "w") as f:
                json.dump(record, f, indent=1)
            os.replace(path + ".tmp", path)  # a finished run is all or nothing
            print(f"done {variant} seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in record["metrics"].items())
                  + f", {record['iteration_seconds']:.3f} s/iter", flush=True)


def measure_timing(args, cwd, extra_options):
    """Interleaved rounds per family; each family's timing file holds the variants measured last."""
    seconds = {v: [] for v in args.variants}
    for round_index in range(args.timing):
        for variant in args.variants:
            per_iteration, iterations = time_iterations(variant, cwd, args.work_root, extra_options)
            seconds[variant].append(per_iteration)
            print(f"timing round {round_index + 1}: {variant} {per_iteration:.3f} s/iter", flush=True)
    for family, spec in FAMILIES.items():
        measured = {v: t for v, t in seconds.items() if VARIANTS[v][2] == family}
        if measured:
            with open(timing_path(args.out, spec), "w") as f:
                json.dump(dict(rounds=args.timing, last_logged_iteration=iterations, seconds_per_iteration=measured,
                               machine=machine()), f, indent=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plots-only", action="store_true", help="report from the saved JSON, train nothing")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: tiny data, 2 iterations of every variant, one seed, in a temp dir")
    parser.add_argument("--timing", type=int, metavar="ROUNDS",
                        help="after the runs, measure iteration times: ROUNDS interleaved rounds of one epoch per "
                             "variant, back to back")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", default=osp.join(ROOT, "docs", "study"), help="results and plots folder")
    parser.add_argument("--work-root", default=osp.join(ROOT, "work_dirs", "study"))
    args = parser.parse_args()

    cwd, extra_options, scale = ROOT, [], 1.0
    if args.quick:
        cwd = tempfile.mkdtemp(prefix="study_quick_")
        args.out, args.work_root, args.seeds, scale = osp.join(cwd, "docs", "study"), osp.join(cwd, "work"), [0], 0.01
        extra_options = ["train_cfg.max_epochs=1", "train_dataloader.batch_size=8", "train_dataloader.num_workers=0",
                         "train_dataloader.persistent_workers=False", "val_dataloader.num_workers=0",
                         "val_dataloader.persistent_workers=False", "test_dataloader.num_workers=0",
                         "test_dataloader.persistent_workers=False", "default_hooks.logger.interval=1",
                         "model.test_cfg.score_thr=0.0", "model.test_cfg.rcnn.score_thr=0.0"]
    runs_dir = osp.join(args.out, "runs")
    os.makedirs(runs_dir, exist_ok=True)
    if not args.plots_only:
        ensure_data(cwd, scale)
        os.makedirs(args.work_root, exist_ok=True)
        train_missing_runs(args, runs_dir, cwd, extra_options)
        if args.timing:
            measure_timing(args, cwd, extra_options)
    runs = load_runs(runs_dir)
    if not runs:
        raise SystemExit(f"no runs in {runs_dir}: run without --plots-only first")
    report(args.out, runs, next(iter(runs.values()))[0]["classes"])
    print(f"wrote {osp.join(osp.dirname(args.out), 'study.md')} and the plots in {args.out}")


if __name__ == "__main__":
    main()
