"""The study's CPU numerics: the pin every training run of ``run_study.py`` runs under, the CPU
facts every record names, and a 100-iteration probe that tells whether this machine reproduces
the committed runs' arithmetic.

A seed reproduces a run only on the same numerics. Left to themselves, ATen, oneDNN and MKL pick
their kernels from the CPU (AVX2 or AVX-512), and their float32 sums differ in the last bits; over
thousands of iterations a run departs (the segmentation twin's ours + CB seed 0: identical logged
losses to iteration 60, then mIoU 51.4 on an AVX2 machine against 59.1 on the machine of its
record). The pin asks all three for their AVX2 code paths and fixes the thread count, so that
machines of our kind (2 cores, AVX2 or AVX-512) should run the same arithmetic.

    python projects/longtail_study/numerics.py           # run the probe, compare with the committed one
    python projects/longtail_study/numerics.py --write   # record this machine's probe (a person commits it)
    python projects/longtail_study/numerics.py --unpinned  # the probe without the pin (to see what it changes)

The probe trains the segmentation twin's ours + class-balanced alpha (seed 0) for 100 iterations,
logging the loss at every iteration, and compares the 100 losses bit for bit with
``results/numerics_probe.json``. ``run_study.py`` runs it before training and refuses to train
runs that would not pair with the committed ones.
"""
import argparse
import glob
import json
import os
import os.path as osp
import platform
import shutil
import subprocess
import sys
import tempfile

PROJECT = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(PROJECT))
PROBE_RECORD = osp.join(PROJECT, "results", "numerics_probe.json")

# ATen's dispatch (the AVX-512 kernels otherwise), oneDNN's convolutions and MKL's conditional
# numerical reproducibility, all on their AVX2 paths; the thread count fixed, since a reduction's
# split follows it.
PINNED_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
              "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}

PROBE_CONFIG = "configs/segmentation/unet-s4-d8_fcn_softmax-focal-cb_shapes-seg.py"
PROBE_ITERATIONS = 100
PROBE_DATA = "data/shapes_seg"
# The study's frozen random streams (run_study.FROZEN_STREAM_OPTIONS), the probe's length, a loss
# logged at every iteration, no checkpoint and no validation.
PROBE_OPTIONS = ["custom_hooks=[]", "train_dataloader.persistent_workers=True", "randomness.seed=0",
                 f"train_cfg.max_iters={PROBE_ITERATIONS}", f"train_cfg.val_interval={PROBE_ITERATIONS + 1}",
                 f"default_hooks.checkpoint.interval={PROBE_ITERATIONS + 1}",
                 "default_hooks.checkpoint.save_last=False", "default_hooks.logger.interval=1"]

_FACTS = r"""
import json, re, torch
config = torch.__config__.show()
def version(pattern):
    found = re.search(pattern, config)
    return found.group(1) if found else "unknown"
print(json.dumps(dict(torch=torch.__version__, aten_cpu_capability=torch.backends.cpu.get_cpu_capability(),
                      onednn=version(r"MKL-DNN v([0-9.]+)"), mkl=version(r"Math Kernel Library Version ([0-9.]+)"),
                      threads=torch.get_num_threads())))
"""


def pinned_environment(pinned=True):
    """The environment of a training subprocess: this one's, the repository on PYTHONPATH, and the pin."""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if pinned:
        env.update(PINNED_ENV)
    else:
        for name in PINNED_ENV:
            env.pop(name, None)
    return env


def cpu_flags():
    """The CPU's model name and whether it has AVX-512 (from /proc/cpuinfo; empty where there is none)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model, any(flag.startswith("avx512") for flag in flags)


def machine(pinned=True):
    """What a record says about the machine it ran on: the CPU, whether it has AVX-512, and what a
    training process sees under the pin (ATen's CPU capability, torch, oneDNN and MKL versions, threads)."""
    model, avx512 = cpu_flags()
    facts = subprocess.run([sys.executable, "-c", _FACTS], env=pinned_environment(pinned),
                           capture_output=True, text=True, check=True).stdout
    return dict(processor=platform.processor() or platform.machine(), cpus=os.cpu_count(),
                python=platform.python_version(), cpu_model=model, avx512=avx512, **json.loads(facts),
                pinned_env=dict(PINNED_ENV) if pinned else {})


def run_probe(pinned=True, work_dir=None):
    """Train the probe; return the loss logged at each of its iterations (full float precision)."""
    if not osp.exists(osp.join(ROOT, PROBE_DATA, "class_stats.json")):
        subprocess.run([sys.executable, osp.join(ROOT, "tools", "generate_shapes_dataset.py"), "--profile",
                        "segmentation", "--out", PROBE_DATA, "--seed", "0"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    owned = work_dir is None
    work_dir = work_dir or tempfile.mkdtemp(prefix="numerics_probe_")
    try:
        log_path = osp.join(work_dir, "train.log")
        with open(log_path, "w") as log:
            result = subprocess.run([sys.executable, osp.join(ROOT, "tools", "train.py"), osp.join(ROOT, PROBE_CONFIG),
                                     "--work-dir", work_dir, "--cfg-options"] + PROBE_OPTIONS,
                                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=pinned_environment(pinned))
        if result.returncode != 0:
            raise RuntimeError(f"the numerics probe failed ({result.returncode}):\n{open(log_path).read()[-3000:]}")
        scalars = glob.glob(osp.join(work_dir, "*", "vis_data", "scalars.json"))
        entries = [json.loads(line) for line in open(scalars[0])]
        return [entry["loss"] for entry in entries if "loss" in entry and "iter" in entry]
    finally:
        if owned:
            shutil.rmtree(work_dir, ignore_errors=True)


def first_difference(losses, expected):
    """The 1-based iteration where two loss sequences first differ (None where they are identical)."""
    for index, (loss, reference) in enumerate(zip(losses, expected)):
        if loss != reference:
            return index + 1
    return None if len(losses) == len(expected) else min(len(losses), len(expected)) + 1


def check_probe(record_path=PROBE_RECORD, pinned=True):
    """(matches, message): this machine's probe against the committed one."""
    if not osp.exists(record_path):
        return False, f"no committed numerics probe at {record_path}"
    expected = json.load(open(record_path))
    losses = run_probe(pinned)
    where = first_difference(losses, expected["losses"])
    model, avx512 = cpu_flags()
    here = f"{model} ({'AVX-512' if avx512 else 'no AVX-512'})"
    there = f"{expected['machine']['cpu_model']} ({'AVX-512' if expected['machine']['avx512'] else 'no AVX-512'})"
    if where is None:
        return True, f"numerics probe: all {len(losses)} losses identical to the committed probe's ({there}) on {here}"
    return False, (f"numerics probe: loss at iteration {where} differs from the committed probe's "
                   f"({losses[where - 1] if where <= len(losses) else 'missing'} vs "
                   f"{expected['losses'][where - 1] if where <= len(expected['losses']) else 'missing'}); "
                   f"this machine ({here}) does not reproduce the committed runs' arithmetic ({there}), "
                   "so its runs would not pair with theirs seed for seed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"record this machine's probe in {PROBE_RECORD}")
    parser.add_argument("--unpinned", action="store_true", help="run the probe without the pin (compare only)")
    args = parser.parse_args()
    if args.write:
        if args.unpinned:
            raise SystemExit("--write records the pinned probe only")
        losses = run_probe()
        with open(PROBE_RECORD, "w") as f:
            json.dump(dict(config=PROBE_CONFIG, seed=0, iterations=PROBE_ITERATIONS, options=PROBE_OPTIONS,
                           machine=machine(), losses=losses), f, indent=1)
            f.write("\n")
        print(f"wrote {PROBE_RECORD}: {len(losses)} losses, last {losses[-1]!r}")
        return
    matches, message = check_probe(pinned=not args.unpinned)
    print(message)
    raise SystemExit(0 if matches else 1)


if __name__ == "__main__":
    main()
