"""Calibrate the segmentation study's recipe on CE alone, before any other variant runs.

    python projects/longtail_study/calibrate_segmentation.py NAME [--seeds 0 1] [--note TEXT] -- key=value ...

Trains and evaluates the CE variant (``seg-ce``) with the given ``--cfg-options`` changes to the
current base recipe (``configs/_base_/unet-s4-d8_fcn_shapes-seg.py``) and saves one record per seed
as ``results/segmentation_calibration/<NAME>_seed<seed>.json`` (the changes, the note, the
metrics by group, per-class IoU, times, the commit it ran on). An existing record is skipped, so a queue of
calibration runs is resumable. ``report.py`` lists every record in the study page's
calibration log.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess

from run_study import RESULTS, ROOT, ensure_data, train_and_evaluate  # beside this script

CALIBRATION_DIR = osp.join(RESULTS, "segmentation_calibration")


def commit():
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "configs", "tools", "projects"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return result.stdout.strip() + ("+changes" if dirty else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="the recipe's name in the log (file-name safe)")
    parser.add_argument("options", nargs="*", help="--cfg-options changes, key=value")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--note", default="", help="why this recipe was tried")
    parser.add_argument("--out", default=CALIBRATION_DIR)
    parser.add_argument("--work-root", default=osp.join(ROOT, "work_dirs", "calibration"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work_root, exist_ok=True)
    ensure_data("segmentation", ROOT, 1.0)
    for seed in args.seeds:
        path = osp.join(args.out, f"{args.name}_seed{seed}.json")
        if osp.exists(path):
            print(f"skip {args.name} seed {seed}: {osp.relpath(path, ROOT)} exists", flush=True)
            continue
        print(f"calibrate {args.name} seed {seed}: {' '.join(args.options)}", flush=True)
        record = train_and_evaluate("seg-ce", seed, ROOT, osp.join(args.work_root, args.name), args.options)
        order = len(glob.glob(osp.join(args.out, "*.json")))  # the log lists recipes in the order they ran
        record.update(name=args.name, options=args.options, note=args.note, commit=commit(), order=order)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f, indent=1)
        os.replace(path + ".tmp", path)
        print(f"done {args.name} seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in record["metrics"].items())
              + f", {record['iteration_seconds']:.3f} s/iter, {record['train_seconds']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
