"""Our softmax heads against torchvision's stock ones: the same schedule of ``train.py`` over seeds, one
record per finished run, then a table of COCO AP (mean +- std over seeds) and a check of the stated floor.

    PYTHONPATH=$PWD .venv-torchvision/bin/python tools/torchvision_detection/compare_heads.py \\
        --results tools/torchvision_detection/runs --seeds 0 1 2 --jobs 2

Resumable: a run whose record exists is not trained again. Every other flag of ``train.py`` can follow
``--`` (the same for every run). Each run gets one thread per job (``OMP_NUM_THREADS``) so that ``--jobs``
runs share the machine evenly. Exit status 1 when the softmax model's mean AP is below ``--floor``.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

TRAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py")
PAIRS = {"retinanet": ("retinanet_r18_fpn", "retinanet_r18_fpn_softmax"),
         "fasterrcnn": ("fasterrcnn_r18_fpn", "fasterrcnn_r18_fpn_softmax")}


def record_path(results, model, seed):
    return os.path.join(results, f"{model}_seed{seed}.json")


def run(model, seed, results, train_args, threads):
    """Train and evaluate one model and seed; the record is metrics.json plus the logged losses."""
    with tempfile.TemporaryDirectory() as output_dir:
        command = [sys.executable, TRAIN, "--model", model, "--seed", str(seed), "--output-dir", output_dir,
                   *train_args]
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{model} seed {seed} failed ({done.returncode}):\n{done.stderr[-3000:]}")
        with open(os.path.join(output_dir, "metrics.json")) as f:
            metrics = json.load(f)
    metrics["args"] = train_args
    metrics["log"] = [line for line in done.stdout.splitlines() if line.startswith(("epoch", "training took"))]
    with open(record_path(results, model, seed), "w") as f:
        json.dump(metrics, f, indent=1)
    print(f"{model} seed {seed}: AP {metrics['AP']:.3f}", flush=True)


def load(path):
    with open(path) as f:
        return json.load(f)


def table(results, models, seeds):
    rows = ["| model | seeds | AP | AP50 | AP75 | AP per seed |", "|---|---|---|---|---|---|"]
    means = {}
    for model in models:
        paths = [record_path(results, model, s) for s in seeds]
        records = [load(path) for path in paths if os.path.exists(path)]
        if not records:
            continue
        cells = []
        for key in ("AP", "AP50", "AP75"):
            values = [r[key] for r in records]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} +- {spread:.3f}")
        means[model] = statistics.mean(r["AP"] for r in records)
        per_seed = ", ".join(f"{r['AP']:.3f}" for r in records)
        rows.append(f"| `{model}` | {len(records)} | {' | '.join(cells)} | {per_seed} |")
    return "\n".join(rows), means


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", required=True, help="one JSON record per model and seed")
    parser.add_argument("--family", default="retinanet", choices=sorted(PAIRS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--floor", type=float, default=None, help="the softmax model's mean AP must reach this")
    parser.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then flags for train.py")
    args = parser.parse_args()
    train_args = [a for a in args.train_args if a != "--"]
    os.makedirs(args.results, exist_ok=True)
    models = PAIRS[args.family]
    # seed-major, so that an interrupted comparison has both heads of its first seeds
    todo = [(m, s) for s in args.seeds for m in models if not os.path.exists(record_path(args.results, m, s))]
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    with ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(run, m, s, args.results, train_args, threads) for m, s in todo]:
            future.result()
    text, means = table(args.results, models, args.seeds)
    print(text)
    softmax = models[1]
    if args.floor is not None and means.get(softmax, 0.0) < args.floor:
        print(f"{softmax}: mean AP {means.get(softmax, 0.0):.3f} is below the floor {args.floor}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
