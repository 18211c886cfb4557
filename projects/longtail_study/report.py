"""The long-tail study's report: tables, plots and docs/study.md from the per-run JSON records
that ``run_study.py`` saves in ``results/`` (``--plots-only`` calls only this). Each family
(``variants.py``) gets its section: a table of its metrics (mean +- std over seeds), differences to
its baseline, per-class AP or IoU against training frequency, group means, loss curves and
iteration times, then its calibration log and hand-written conclusion from ``results/``.
Deterministic: the same records give the same bytes.
"""
import glob
import json
import os
import os.path as osp
import statistics

from tasks import GROUP_BOUNDS
from variants import FAMILIES, SEEDS, TRAINABLE, VARIANTS

COLOURS = ("tab:grey", "tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink",
           "tab:olive", "tab:cyan", "black", "gold", "navy", "lime", "magenta")
PLOTS = "study"  # the plots' folder beside study.md, as the page links them


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


def report(results_dir, docs_dir):
    """Write the plots of every family with runs (``docs_dir/study/``) and ``docs_dir/study.md``
    from the records in ``results_dir``; False if there are none."""
    runs = load_runs(osp.join(results_dir, "runs"))
    plots_dir = osp.join(docs_dir, PLOTS)
    os.makedirs(plots_dir, exist_ok=True)
    sections, setups = [], []
    for family, spec in FAMILIES.items():
        variants = [v for v in VARIANTS if v in runs and VARIANTS[v].family == family]
        earlier = load_runs(osp.join(results_dir, spec.earlier)) if spec.earlier else {}
        earlier_variants = [v for v in VARIANTS if v in earlier and VARIANTS[v].family == family]
        if variants:
            classes = runs[variants[0]][0]["classes"]  # the family's data, the same for all its runs
            setups.append(spec.task.page_setup(classes))
            ratios = plot_family(plots_dir, results_dir, spec, runs, classes, variants)
            sections.append(family_markdown(results_dir, spec, runs, classes, variants, ratios))
        elif earlier_variants:
            sections.append([spec.title, "", spec.setup, "", "No run under the pinned numerics yet.", ""]
                            + calibration_markdown(results_dir, spec))
        if earlier_variants:
            classes = earlier[earlier_variants[0]][0]["classes"]
            sections[-1] = sections[-1] + family_markdown(
                results_dir, spec, earlier, classes, earlier_variants,
                time_ratios(results_dir, spec, earlier, earlier_variants, earlier=True), earlier=True)
        elif not variants and calibration_markdown(results_dir, spec):  # calibrating: the log before any comparison ran
            sections.append([spec.title, "", spec.calibration_outcome, ""] + calibration_markdown(results_dir, spec))
    if sections:
        write_markdown(docs_dir, [s for s in dict.fromkeys(setups) if s], sections)
    return bool(sections)


def plot_family(plots_dir, results_dir, spec, runs, classes, variants):
    """The family's four plots (``<prefix>per_class_ap.png`` ...); returns its time ratios."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(zip(variants, COLOURS))
    names = sorted(classes, key=lambda n: -classes[n]["images"])
    task = spec.task
    per_class, measure = task.per_class_key, task.per_class_measure
    metric = measure.split()[0]  # AP or IoU
    path = lambda name: osp.join(plots_dir, spec.prefix + name)  # noqa: E731

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for offset, variant in enumerate(variants):
        per_seed = [[r[per_class][n] for n in names] for r in runs[variant]]
        means = [mean_std(values)[0] for values in zip(*per_seed)]
        spread = [mean_std(values)[1] for values in zip(*per_seed)]
        x = [classes[n]["images"] * 1.06 ** (offset - (len(variants) - 1) / 2) for n in names]  # dodge the markers
        ax.errorbar(x, means, yerr=spread, fmt="o", ms=4, capsize=2, color=colours[variant],
                    label=VARIANTS[variant].label)
    for bound in GROUP_BOUNDS:
        ax.axvline(bound, color="black", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("training images containing the class (log); dotted: rare | common | frequent")
    ax.set_ylabel(f"{measure} (mean +- std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path(f"per_class_{metric.lower()}.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / max(1, len(variants))
    for i, variant in enumerate(variants):
        stats = [mean_std([r["metrics"][m] for r in runs[variant]]) for m in task.groups]
        ax.bar([k + i * width for k in range(4)], [s[0] for s in stats], width, yerr=[s[1] for s in stats],
               capsize=3, color=colours[variant], label=VARIANTS[variant].label)
    ax.set_xticks([k + width * (len(variants) - 1) / 2 for k in range(4)], list(task.groups))
    ax.set_ylabel(f"{measure} (mean +- std over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path(f"group_{metric.lower()}.png"), dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    (first_key, first_title), (second_key, second_title) = task.loss_curves
    for variant in variants:
        for ax, key in zip(axes, (first_key, second_key)):
            curves = [[(p["iter"], p[key]) for p in r["loss_curve"] if p.get(key) is not None] for r in runs[variant]]
            length = min(len(c) for c in curves)
            iters = [p[0] for p in curves[0][:length]]
            values = [[c[j][1] for c in curves] for j in range(length)]
            ax.plot(iters, [statistics.fmean(v) for v in values], color=colours[variant], label=VARIANTS[variant].label)
            ax.fill_between(iters, [min(v) for v in values], [max(v) for v in values], color=colours[variant],
                            alpha=0.2)
    axes[0].set_yscale("log")
    for ax, title in zip(axes, (first_title, second_title)):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("iteration")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path("loss_curves.png"), dpi=110)
    plt.close(fig)

    ratios = time_ratios(results_dir, spec, runs, variants)
    if ratios:
        timed = [v for v in variants if v in ratios]  # variants added after the timing rounds have none yet
        fig, ax = plt.subplots(figsize=(6, 3))
        stats = [mean_std(ratios[v]) for v in timed]
        ax.barh(range(len(timed)), [s[0] for s in stats], xerr=[s[1] for s in stats], capsize=3,
                color=[colours[v] for v in timed])
        ax.set_yticks(range(len(timed)), [VARIANTS[v].label for v in timed], fontsize=8)
        ax.axvline(1.0, color="black", lw=0.6)
        ax.set_xlabel(f"training iteration time / {VARIANTS[spec.baseline].label}")
        fig.tight_layout()
        fig.savefig(path("iteration_time.png"), dpi=110)
        plt.close(fig)
    return ratios


def timing_path(results_dir, spec, earlier=False):
    """The family's timing file (``--timing``), or its earlier block's (kept from before the pin)."""
    return osp.join(results_dir, spec.prefix + ("earlier_timing.json" if earlier else "timing.json"))


def time_ratios(results_dir, spec, runs, variants, earlier=False):
    """variant -> iteration time / the family baseline's, per round of its timing file (or per run)."""
    baseline = spec.baseline
    if osp.exists(timing_path(results_dir, spec, earlier)):
        rounds = json.load(open(timing_path(results_dir, spec, earlier)))["seconds_per_iteration"]  # variant: [rounds]
        if baseline in rounds:
            return {v: [t / b for t, b in zip(rounds[v], rounds[baseline])] for v in variants if v in rounds}
    if baseline not in runs:
        return {}
    base_time = statistics.fmean(r["iteration_seconds"] for r in runs[baseline])
    return {v: [r["iteration_seconds"] / base_time for r in runs[v]] for v in variants}


def cell(values, digits=3):
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} +- {std:.{digits}f}"


def family_markdown(results_dir, spec, runs, classes, variants, ratios, earlier=False):
    """The family's section; ``earlier``: its earlier block (runs of an earlier numerics: no plots, no
    calibration log, per-run time ratios, its own conclusion ``<prefix>earlier_conclusion.md``)."""
    baseline, short, prefix, task = spec.baseline, spec.short, spec.prefix, spec.task
    per_class, measure = task.per_class_key, task.per_class_measure
    metric = measure.split()[0]
    digits = task.digits  # AP in [0, 1], IoU in percent
    conclusion = prefix + ("earlier_conclusion.md" if earlier else "conclusion.md")
    names = sorted(classes, key=lambda n: -classes[n]["images"])
    seeds = sorted({r["seed"] for v in variants for r in runs[v]})
    heading = (["### Earlier block: before the numerics pin", "", spec.earlier_note + f" Seeds {seeds}.", ""]
               if earlier else [spec.title, "", spec.setup + f" Seeds {seeds}.", ""])
    lines = heading + [
             "| variant | runs | " + " | ".join(task.metrics) + f" | iteration time / {short} |",
             "|---|---|" + "---|" * len(task.metrics) + "---|"]
    for v in variants:
        rs = runs[v]
        time_cell = cell(ratios[v], 2) if v in ratios else "n/a"
        metric_cells = " | ".join(cell([r["metrics"][m] for r in rs], digits) for m in task.metrics)
        lines.append(f"| {VARIANTS[v].label} | {len(rs)} | " + metric_cells + f" | {time_cell} |")
    retired = [v for v in variants if VARIANTS[v].retired]
    if retired:
        lines += ["", "Removed from the code after these runs (an option that beats its family's best nowhere leaves "
                      "the code; its rows stay): " + ", ".join(VARIANTS[v].label for v in retired)
                  + "; their configs and the code that ran them are at commit "
                  + ", ".join(f"`{c}`" for c in dict.fromkeys(VARIANTS[v].retired for v in retired)) + "."]
    if baseline in runs:
        lines += ["", f"Differences to {VARIANTS[baseline].label} (mean over seeds; the std of a difference of two "
                      "independent means is about sqrt(2) x the std above):", ""]
        for v in variants:
            if v == baseline:
                continue
            diffs = [f"{m} {mean_of(runs[v], m) - mean_of(runs[baseline], m):+.{digits}f}" for m in task.metrics]
            lines.append(f"- {VARIANTS[v].label}: " + ", ".join(diffs))
    lines += paired_differences(spec, runs, variants, digits, baseline, VARIANTS[baseline].label)
    best = best_variant(spec, runs, variants)
    if best != baseline:
        lines += paired_differences(spec, runs, variants, digits, best,
                                    f"the family's best, {VARIANTS[best].label} (highest mean {spec.ranking})")
    if spec.rank_by and not earlier:
        lines += rank_markdown(spec, runs, variants, digits)
    if spec.ours and not earlier:
        lines += target_verdicts(spec, runs, variants, digits)
    if not earlier:
        lines += ["", f"![{metric} by group]({PLOTS}/{prefix}group_{metric.lower()}.png)", "",
                  f"![per-class {metric} against training frequency]({PLOTS}/{prefix}per_class_{metric.lower()}.png)",
                  "", f"![training losses]({PLOTS}/{prefix}loss_curves.png)", "",
                  f"![iteration time]({PLOTS}/{prefix}iteration_time.png)"]
    lines += ["", f"#### Per-class {measure} of the earlier block (mean +- std over seeds)" if earlier
              else f"### Per-class {measure} (mean +- std over seeds)", "",
              "| class | group | train images | " + " | ".join(VARIANTS[v].label for v in variants) + " |",
              "|---|---|---|" + "---|" * len(variants)]
    for n in names:
        lines.append(f"| {n} | {classes[n]['group']} | {classes[n]['images']} | "
                     + " | ".join(cell([r[per_class][n] for r in runs[v]], digits) for v in variants) + " |")
    minutes = sum(r["train_seconds"] for v in variants for r in runs[v]) / 60
    machines = sorted({machine_label(r["machine"]) for v in variants for r in runs[v]})
    if osp.exists(timing_path(results_dir, spec, earlier)):
        timing = json.load(open(timing_path(results_dir, spec, earlier)))
        timing_note = (f"Iteration time ratios come from `--timing {timing['rounds']}`: every variant trained "
                       f"{task.timing_length} in each of {timing['rounds']} interleaved rounds, back to back on an "
                       "otherwise idle machine; per round, the median of mmengine's logged (10-iteration window) "
                       f"times after the first window, divided by the {short} variant's in the same round. Seconds "
                       "per iteration there: "
                       + ", ".join(f"{VARIANTS[v].label} {statistics.fmean(t):.3f}"
                                   for v, t in timing["seconds_per_iteration"].items())
                       + ".")
    else:
        timing_note = ("Iteration time ratios are per run (median of mmengine's logged times after the first "
                       f"window) to the mean of the {short} runs; other work on the machine disturbs them.")
    lines += ["", f"Training time: {minutes:.0f} minutes of training over {sum(len(runs[v]) for v in variants)} "
                  f"runs (evaluation not included), on {'; '.join(machines)}. " + timing_note, ""]
    if not earlier:
        lines += calibration_markdown(results_dir, spec)
    if osp.exists(osp.join(results_dir, conclusion)):
        lines += ["#### Conclusion on the earlier block" if earlier else "### Conclusion", "",
                  open(osp.join(results_dir, conclusion)).read().strip(), ""]
    return lines


def machine_label(machine):
    """A record's machine in words: the CPU, AVX-512 or not, ATen's capability (records of the
    pinned study), or no more than the architecture and CPU count (earlier records)."""
    if "cpu_model" not in machine:
        return f"{machine['processor']}, {machine['cpus']} CPUs"
    return (f"{machine['cpu_model']}, {machine['cpus']} CPUs, {'AVX-512' if machine['avx512'] else 'no AVX-512'}, "
            f"ATen {machine['aten_cpu_capability']}, torch {machine['torch']}, oneDNN {machine['onednn']}")


def complete_variants(runs, variants):
    """The variants with every seed any variant of the family has."""
    complete = max(len(runs[v]) for v in variants)
    return [v for v in variants if len(runs[v]) == complete]


def rank_markdown(spec, runs, variants, digits):
    """Every variant ranked by mean ``spec.rank_by``, and the top two's per-seed paired differences."""
    metric = spec.rank_by
    ranked = sorted(variants, key=lambda v: -mean_of(runs[v], metric))
    lines = ["", f"Rank by mean {metric} (runs per variant in brackets; a variant with fewer seeds is ranked on "
                 "the seeds it has):", ""]
    lines += [f"{i}. {VARIANTS[v].label}: {cell([r['metrics'][metric] for r in runs[v]], digits)} ({len(runs[v])})"
              for i, v in enumerate(ranked, 1)]
    if len(ranked) > 1:
        first, second = ranked[:2]
        lines += ["", f"Top two, {VARIANTS[first].label} minus {VARIANTS[second].label}, seed by seed: "
                  + paired_cells(runs, first, second, spec.primary + (metric,), digits)]
    return lines


def paired_cells(runs, variant, reference, metrics, digits):
    """'metric mean +- std (seed s d, ...)' of variant minus reference over the seeds both ran."""
    base = {r["seed"]: r for r in runs[reference]}
    pairs = sorted((r["seed"], r) for r in runs[variant] if r["seed"] in base)
    if not pairs:
        return "no seed in common"
    parts = []
    for m in dict.fromkeys(metrics):
        diffs = [r["metrics"][m] - base[seed]["metrics"][m] for seed, r in pairs]
        per_seed = ", ".join(f"seed {seed} {d:+.{digits}f}" for (seed, _), d in zip(pairs, diffs))
        parts.append(f"{m} {cell(diffs, digits)} ({per_seed})")
    return "; ".join(parts)


def target_verdicts(spec, runs, variants, digits):
    """The targets fixed before the runs (issue 53): the best of ours (highest mean ``rank_by`` among
    ``spec.ours``) has the highest mean of all variants; its paired difference to the best baseline
    (the highest mean among the rest) is positive in every seed; its mean mIoU_c is at least the best
    baseline's; its mean mIoU_f is within 3 points of the family baseline's. Pending while a variant
    that has runs lacks a seed; a variant without runs (dropped) is named and left out."""
    metric, seeds = spec.rank_by, len(SEEDS)
    lines = ["", f"Targets (fixed before the runs; the best of ours against the best baseline, on mean {metric}):", ""]
    family = [v for v in TRAINABLE if FAMILIES[VARIANTS[v].family] is spec]
    dropped = [VARIANTS[v].label for v in family if v not in runs]
    if dropped:
        lines += ["Not run under the pinned numerics, so not in the targets: " + ", ".join(dropped) + ".", ""]
    missing = [f"{VARIANTS[v].label} {len(runs[v])}/{seeds}" for v in family if 0 < len(runs.get(v, [])) < seeds]
    if missing:
        return lines + [f"Pending: not every variant has its {seeds} seeds (" + ", ".join(missing) + ")."]
    ours = [v for v in variants if v in spec.ours]
    if spec.baseline not in runs or not ours or not [v for v in variants if v not in spec.ours]:
        return lines + ["Pending: the baseline, a variant of ours and a baseline variant must all have runs."]
    rest = [v for v in variants if v not in spec.ours and not VARIANTS[v].retired]
    best_ours = max(ours, key=lambda v: mean_of(runs[v], metric))
    best_rest = max(rest, key=lambda v: mean_of(runs[v], metric))
    base = {r["seed"]: r for r in runs[best_rest]}
    diffs = [r["metrics"][metric] - base[r["seed"]]["metrics"][metric] for r in runs[best_ours]]
    checks = [
        (f"the best of ours ({VARIANTS[best_ours].label}, {mean_of(runs[best_ours], metric):.{digits}f}) has the "
         f"highest mean {metric} (best baseline: {VARIANTS[best_rest].label}, "
         f"{mean_of(runs[best_rest], metric):.{digits}f})",
         mean_of(runs[best_ours], metric) > mean_of(runs[best_rest], metric)),
        (f"its paired {metric} difference to the best baseline is positive in every seed ("
         + ", ".join(f"{d:+.{digits}f}" for d in diffs) + ")", all(d > 0 for d in diffs)),
        (f"its mean mIoU_c ({mean_of(runs[best_ours], 'mIoU_c'):.{digits}f}) is at least the best baseline's "
         f"({mean_of(runs[best_rest], 'mIoU_c'):.{digits}f})",
         mean_of(runs[best_ours], "mIoU_c") >= mean_of(runs[best_rest], "mIoU_c")),
        (f"its mean mIoU_f ({mean_of(runs[best_ours], 'mIoU_f'):.{digits}f}) is within 3 points of "
         f"{VARIANTS[spec.baseline].label}'s ({mean_of(runs[spec.baseline], 'mIoU_f'):.{digits}f})",
         mean_of(runs[best_ours], "mIoU_f") >= mean_of(runs[spec.baseline], "mIoU_f") - 3.0),
    ]
    return lines + [f"- {'met' if ok else 'missed'}: {text}" for text, ok in checks]


def best_variant(spec, runs, variants):
    """The family's best: the highest mean on ``spec.ranking`` among the variants with every seed."""
    return max(complete_variants(runs, variants), key=lambda v: mean_of(runs[v], spec.ranking))


def paired_differences(spec, runs, variants, digits, reference, title):
    """Per seed, variant minus ``reference`` on the family's primary metrics (seeds both ran)."""
    if not spec.primary or reference not in runs:
        return []
    lines = ["", f"Paired differences to {title}, seed by seed (the same seed: the same "
                 "initialisation and data order), on the primary metrics " + ", ".join(spec.primary)
             + "; mean +- std of the differences, then each seed's:", ""]
    return lines + [f"- {VARIANTS[v].label}: " + paired_cells(runs, v, reference, spec.primary, digits)
                    for v in variants if v != reference]


def calibration_markdown(results_dir, spec):
    """The calibration log (``calibrate_segmentation.py`` records) and its hand-written notes."""
    folder = osp.join(results_dir, spec.prefix + "calibration")
    records = [json.load(open(p)) for p in sorted(glob.glob(osp.join(folder, "*.json")))]
    notes = osp.join(results_dir, spec.prefix + "calibration.md")
    if not records and not osp.exists(notes):
        return []
    lines = ["### Calibration of the recipe (CE only, before any other variant ran)", ""]
    if osp.exists(notes):
        lines += [open(notes).read().strip(), ""]
    if not records:
        return lines
    by_name = {}
    for r in records:
        by_name.setdefault(r["name"], []).append(r)
    order = sorted(by_name, key=lambda n: min(r.get("order", 0) for r in by_name[n]))
    lines += ["| # | recipe | changes to the base config of its commit | seeds | " + " | ".join(spec.task.metrics)
              + " | classes with IoU > 0 (per seed) | s / iter | commit |",
              "|---|---|---|---|" + "---|" * len(spec.task.metrics) + "---|---|---|"]
    for index, name in enumerate(order, 1):
        rs = sorted(by_name[name], key=lambda r: r["seed"])
        changes = ", ".join(f"`{o}`" for o in rs[0]["options"]) or "none"
        learned = ", ".join(str(sum(1 for v in r["per_class_IoU"].values() if v > 0)) for r in rs)
        lines.append(f"| {index} | {name} | {changes} | {len(rs)} | "
                     + " | ".join(cell([r["metrics"][m] for r in rs], 2) for m in spec.task.metrics)
                     + f" | {learned} | {statistics.fmean(r['iteration_seconds'] for r in rs):.3f} | "
                     + f"{rs[0]['commit']} |")
    lines += ["", "What each recipe was tried for:", ""]
    lines += [f"{index}. **{name}**: {by_name[name][0]['note'] or 'no note'}" for index, name in enumerate(order, 1)]
    return lines + [""]


def write_markdown(docs_dir, setups, sections):
    lines = [
        "# Long-tail study: softmax focal vs sigmoid focal vs softmax CE (RetinaNet), vs CE and Seesaw (Faster "
        "R-CNN), vs CE, CE + OHEM, class-weighted CE, Dice, Lovász, Tversky and median-frequency weights (semantic "
        "segmentation)",
        "",
        "Generated by `python projects/longtail_study/run_study.py` from the JSON records in",
        "`projects/longtail_study/results/runs/` (`--plots-only` rewrites this page and the plots without training).",
        "",
    ]
    for setup in setups:
        lines += [setup, ""]
    for section in sections:
        lines += section
    with open(osp.join(docs_dir, "study.md"), "w") as f:
        f.write("\n".join(lines))
