"""Calibrate a segmentation family's recipe on CE alone, before any other variant runs.

    python projects/longtail_study/calibrate_segmentation.py NAME [--family F] [--seeds 0 1] [--note TEXT]
        [--data-profile P] -- key=value ...
    python projects/longtail_study/calibrate_segmentation.py --verdict [--family segmentation-counts]

Trains and evaluates the family's CE baseline (``seg-ce``; ``seg2-ce`` for ``segmentation-counts``)
with the given ``--cfg-options`` changes to its base recipe, optionally on the data of another
generator profile (``--data-profile``: generated into ``data/shapes_<profile>`` and pointed at by
the data roots), and saves one record per seed as
``results/<prefix>calibration/<NAME>_seed<seed>.json`` (the changes, the note, the metrics by
group, per-class IoU, times, the commit it ran on). An existing record is skipped, so a queue of
calibration runs is resumable. ``report.py`` lists every record in the family's calibration log.

``--verdict`` applies the family's calibration rule, written before its first run
(``CANDIDATES`` and ``counts_twin_verdict``; the second twin, issue 44), to the recorded candidates
in their stated order and names the first that passes.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys

from run_study import RESULTS, ROOT, ensure_data, train_and_evaluate  # beside this script
from variants import FAMILIES

# The second twin's candidates (issue 44), in the order the rule takes them, fixed before the first
# run: (name, data profile, --cfg-options changes, why).
COUNTS_LONG_SCHEDULE = ["train_cfg.max_iters=6000", "train_cfg.val_interval=6000", "param_scheduler.1.end=6000",
                        "default_hooks.checkpoint.interval=6000"]
CANDIDATES = {
    "segmentation-counts": (
        ("counts-4000it", "segmentation-counts", [],
         "the twin as specified: rare shapes at 10, 8, 8 and 6 instances, the first twin's 4000 iterations"),
        ("rare10-4000it", "segmentation-counts-rare10", [],
         "the 4 rare shapes at 10 training instances each (the most the rare group admits)"),
        ("rare10-6000it", "segmentation-counts-rare10", COUNTS_LONG_SCHEDULE,
         "the same at 6000 iterations (the cosine schedule stretched to the end)"),
    ),
}
SEEDS = (0, 1)  # two seeds per candidate
RARE_GROUP = "r"


def counts_twin_verdict(records):
    """Issue 44's rule for one candidate's records (two seeds): (passes, reasons it fails).

    mIoU_f >= 75 in each seed; the mean of mIoU_r in [3, 30]; at least 2 of the 4 rare classes
    above 5 IoU in some seed; no rare class above 60 IoU in any seed."""
    if len(records) < len(SEEDS):
        return False, [f"{len(records)} of {len(SEEDS)} seeds recorded"]
    reasons = []
    frequent = [r["metrics"]["mIoU_f"] for r in records]
    if min(frequent) < 75:
        reasons.append(f"mIoU_f {', '.join(f'{v:.1f}' for v in frequent)}: not >= 75 in each seed")
    rare_mean = sum(r["metrics"]["mIoU_r"] for r in records) / len(records)
    if not 3 <= rare_mean <= 30:
        reasons.append(f"mIoU_r mean {rare_mean:.2f}: not in [3, 30]")
    rare = [name for name, c in records[0]["classes"].items() if c["group"] == RARE_GROUP]
    learned = [name for name in rare if max(r["per_class_IoU"][name] for r in records) > 5]
    if len(learned) < 2:
        reasons.append(f"{len(learned)} of {len(rare)} rare classes above 5 IoU in some seed ({', '.join(learned)})")
    too_easy = [name for name in rare if max(r["per_class_IoU"][name] for r in records) > 60]
    if too_easy:
        reasons.append(f"rare classes above 60 IoU: {', '.join(too_easy)}")
    return not reasons, reasons


def data_options(profile):
    """The data folder of a generator profile, and the options that point the config at it."""
    data = "data/shapes_" + profile.replace("-", "_")
    root = data + "/"
    return data, [f"train_dataloader.dataset.data_root={root}", f"val_dataloader.dataset.data_root={root}",
                  f"test_dataloader.dataset.data_root={root}", f"val_evaluator.train_seg_map_dir={root}ann_dir/train",
                  f"test_evaluator.train_seg_map_dir={root}ann_dir/train"]


def commit():
    """The commit the code ran from (read when a run starts), '+changes' where tracked files of the
    recipe's code differ from it (new records, untracked, do not count)."""
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "configs", "tools", "projects"],
                           cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return result.stdout.strip() + ("+changes" if dirty else "")


def load(folder, name):
    return [json.load(open(p)) for p in sorted(glob.glob(osp.join(folder, f"{name}_seed*.json")))]


def verdict(family, folder):
    """Print the rule's verdict on each recorded candidate in order; return the first that passes."""
    for name, _, _, _ in CANDIDATES[family]:
        passes, reasons = counts_twin_verdict(load(folder, name))
        print(f"{name}: {'passes' if passes else 'fails: ' + '; '.join(reasons)}")
        if passes:
            return name
    print("no candidate passes (yet)")
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", help="the recipe's name in the log (file-name safe)")
    parser.add_argument("options", nargs="*", help="--cfg-options changes, key=value")
    parser.add_argument("--family", default="segmentation", choices=[f for f, s in FAMILIES.items()
                                                                     if s.task is FAMILIES["segmentation"].task])
    parser.add_argument("--seeds", type=int, nargs="+", help="default: 0 (a --candidate: the rule's two seeds)")
    parser.add_argument("--note", default="", help="why this recipe was tried")
    parser.add_argument("--data-profile", help="train on this generator profile's data instead of the family's")
    stated_names = ", ".join(c[0] for candidates in CANDIDATES.values() for c in candidates)
    parser.add_argument("--candidate", help=f"one of the family's stated candidates ({stated_names}): its name, "
                                            "data, options and note")
    parser.add_argument("--verdict", action="store_true", help="apply the family's calibration rule and stop")
    parser.add_argument("--out", help="default: results/<family prefix>calibration")
    parser.add_argument("--work-root", default=osp.join(ROOT, "work_dirs", "calibration"))
    args = parser.parse_args()
    spec = FAMILIES[args.family]
    out = args.out or osp.join(RESULTS, spec.prefix + "calibration")
    if args.verdict:
        if args.family not in CANDIDATES:
            parser.error(f"--verdict: the family {args.family!r} has no stated rule")
        verdict(args.family, out)
        return
    if args.candidate:
        stated = {c[0]: c for c in CANDIDATES.get(args.family, ())}
        if args.candidate not in stated:
            parser.error(f"--candidate {args.candidate!r} is not one of {args.family!r}'s: {sorted(stated)}")
        args.name, args.data_profile, args.options, args.note = stated[args.candidate]
        args.seeds = args.seeds or list(SEEDS)
    if not args.name:
        parser.error("name a recipe (or --candidate, --verdict)")
    args.seeds = args.seeds or [0]
    os.makedirs(out, exist_ok=True)
    os.makedirs(args.work_root, exist_ok=True)
    data, options = None, list(args.options)
    if args.data_profile and args.data_profile != spec.profile:
        data, data_changes = data_options(args.data_profile)
        options = data_changes + options
    ensure_data(args.family, ROOT, 1.0, args.data_profile, data)
    for seed in args.seeds:
        path = osp.join(out, f"{args.name}_seed{seed}.json")
        if osp.exists(path):
            print(f"skip {args.name} seed {seed}: {osp.relpath(path, ROOT)} exists", flush=True)
            continue
        print(f"calibrate {args.name} seed {seed}: {' '.join(options)}", flush=True)
        started_at = commit()
        record = train_and_evaluate(spec.baseline, seed, ROOT, osp.join(args.work_root, args.name), options, data)
        order = len(glob.glob(osp.join(out, "*.json")))  # the log lists recipes in the order they ran
        record.update(name=args.name, options=options, note=args.note, commit=started_at, order=order)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f, indent=1)
        os.replace(path + ".tmp", path)
        print(f"done {args.name} seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in record["metrics"].items())
              + f", {record['iteration_seconds']:.3f} s/iter, {record['train_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
