"""Forward+backward time and extra peak memory of SoftmaxFocalLoss against F.cross_entropy.

Ratios are to F.cross_entropy measured in the same run: plain (``F.cross_entropy(x, t)``, what most
users would otherwise call) and with the same smoothing and ignore_index as ours. Rows: ours per
backend (eager, compile; triton on CUDA; the first call of each, which compiles, is printed
separately), the common exp(-ce) focal loss, and kornia's and torchvision's (sigmoid) where
installed. Time: interleaved rounds (each round runs every variant once, in turn), median per
variant; on CUDA each call is timed with CUDA events, and a copy of the logits gives the
bandwidth floor. On CUDA the kernels of one forward+backward are counted with torch.profiler.
Memory: each variant runs in
its own fresh process; on CPU the extra peak is VmHWM (from /proc/self/status) after one
forward+backward minus VmHWM before it (ru_maxrss would carry the parent's peak across exec); on
CUDA it is torch.cuda.max_memory_allocated above the inputs. Also prints the bytes that
gather_distributed communicates per call against an all-gather of the logits.

    python tools/analysis_tools/benchmark_loss.py                      # all shapes, CPU, 2 threads
    python tools/analysis_tools/benchmark_loss.py --device cuda --dtype bf16 --shapes 1048576x81 262144x1204
    python tools/analysis_tools/benchmark_loss.py --device cuda --cases 1048576x81:bf16 8192x81:fp32 \
        --variants "ours, eager" "ours, triton" --no-memory --json rows.json     # what make gpu-check runs
"""
import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from imbalanced_losses import backend_registry, softmax_focal_loss

SHAPES = {
    "262144x81": ((262144, 81), "RetinaNet-like"),
    "8x19x128x256": ((8, 19, 128, 256), "dense segmentation"),
    "65536x1204": ((65536, 1204), "LVIS-like"),
    "1048576x81": ((1048576, 81), "RetinaNet-like, a GPU batch"),
    "262144x1204": ((262144, 1204), "LVIS-like, a GPU batch"),
    "8x19x512x1024": ((8, 19, 512, 1024), "Cityscapes-like segmentation, a GPU batch"),
    "8192x81": ((8192, 81), "a RoI head's batch"),
}
DEFAULT_SHAPES = ["262144x81", "8x19x128x256", "65536x1204"]
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
SMOOTHING, IGNORE_FRACTION, GAMMA = 0.1, 0.05, 2.0


def make_inputs(shape, device, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    num_classes = shape[1]
    logits = torch.randn(shape, generator=gen).mul_(3).to(device, dtype).requires_grad_()
    target_shape = shape[:1] + shape[2:]
    targets = torch.randint(0, num_classes, target_shape, generator=gen)
    targets[torch.rand(target_shape, generator=gen) < 0.8] = 0  # mostly background, as in detection
    targets[torch.rand(target_shape, generator=gen) < IGNORE_FRACTION] = -100
    alpha = torch.full((num_classes,), 0.25)
    alpha[0] = 0.75
    return logits, targets.to(device), alpha.to(device)


def ours(backend):
    def loss(logits, targets, alpha):
        return softmax_focal_loss(logits, targets, alpha=alpha, gamma=GAMMA, label_smoothing=SMOOTHING,
                                  reduction="mean_positive", background_class=0, backend=backend)
    return loss


def cross_entropy(logits, targets, alpha):
    return F.cross_entropy(logits, targets, label_smoothing=SMOOTHING, ignore_index=-100)


def plain_cross_entropy(logits, targets, alpha):
    """What most users would otherwise call: no smoothing (ignored targets keep the default -100)."""
    return F.cross_entropy(logits, targets)


def naive_focal(logits, targets, alpha):
    """The common (wrong with smoothing) focal loss: p_t = exp(-ce)."""
    ce = F.cross_entropy(logits, targets, label_smoothing=SMOOTHING, ignore_index=-100, reduction="none")
    return ((1 - torch.exp(-ce)) ** GAMMA * ce).mean()


def torchvision_sigmoid_focal(logits, targets, alpha):
    """torchvision's (sigmoid, one-vs-all) focal loss; the one-hot targets it needs are built per call."""
    from torchvision.ops import sigmoid_focal_loss
    one_hot = F.one_hot(targets.clamp(min=0), logits.shape[1]).movedim(-1, 1).to(logits.dtype)
    return sigmoid_focal_loss(logits, one_hot, alpha=0.25, gamma=GAMMA, reduction="mean")


def kornia_focal(logits, targets, alpha):
    from kornia.losses import focal_loss
    valid = targets != -100  # kornia has no ignore_index
    return focal_loss(logits[valid], targets[valid], alpha=0.25, gamma=GAMMA, reduction="mean")


VARIANTS = {"plain F.cross_entropy": plain_cross_entropy, "F.cross_entropy": cross_entropy,
            **{f"ours, {name}": ours(name) for name in backend_registry.NAMES},  # every registered backend
            "naive exp(-ce) focal": naive_focal, "kornia focal_loss": kornia_focal,
            "torchvision sigmoid_focal_loss": torchvision_sigmoid_focal}
BASELINE, SAME_OPTIONS = "plain F.cross_entropy", "F.cross_entropy"
COMPILED = ("ours, compile", "ours, triton")  # their first call compiles


def available_variants(device):
    names = list(VARIANTS)
    for name, module in (("kornia focal_loss", "kornia.losses"), ("torchvision sigmoid_focal_loss", "torchvision.ops")):
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - a CUDA-linked torchvision beside CPU torch fails with RuntimeError
            names.remove(name)
    if not device.startswith("cuda"):
        names.remove("ours, triton")  # on CPU only Triton's interpreter runs it: a test tool, not a backend
    return names


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def step(fn, logits, targets, alpha):
    logits.grad = None
    fn(logits, targets, alpha).backward()


def timed(fn, device):
    """Seconds of one call: CUDA events on CUDA (device time, launch gaps included), else wall time."""
    if device.startswith("cuda"):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        fn()
        end.record()
        end.synchronize()
        return start.elapsed_time(end) / 1e3
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def time_variants(shape, device, names, rounds, dtype):
    """Median fwd+bwd time per variant, and each variant's first call (the compile, for compiled ones)."""
    inputs = make_inputs(shape, device, dtype=dtype)
    first = {}
    for name in names:  # warm-up
        sync(device)
        start = time.perf_counter()
        step(VARIANTS[name], *inputs)
        sync(device)
        first[name] = time.perf_counter() - start
    times = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            times[name].append(timed(lambda fn=VARIANTS[name]: step(fn, *inputs), device))
    if device.startswith("cuda"):  # the bandwidth floor: one read and one write of the logits
        logits = inputs[0].detach()
        times["copy of the logits"] = [timed(lambda: logits.clone(), device) for _ in range(rounds)]
    return {name: statistics.median(t) for name, t in times.items()}, first


def kernels_per_call(fn, inputs):
    """CUDA kernels launched by one forward+backward (memcpy/memset not counted)."""
    step(fn, *inputs)
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        step(fn, *inputs)
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
               and "memcpy" not in e.name.lower() and "memset" not in e.name.lower())


def host_syncs_per_call(fn, inputs):
    """Host synchronisations in one forward+backward after a warm-up (torch's sync debug mode warns
    at each; the loss's promise on CUDA is none)."""
    import warnings
    step(fn, *inputs)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step(fn, *inputs)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum(1 for w in caught if "synchroniz" in str(w.message))


def vm_hwm_bytes():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not found in /proc/self/status")


def measure_memory_in_this_process(shape, device, name, dtype):
    """Extra peak bytes of one forward+backward (run in a fresh process by the parent)."""
    fn = VARIANTS[name]
    # load kernels and thread pools (and compile: dynamic shapes, so the real shape reuses it)
    step(fn, *make_inputs((2, shape[1]) + (4,) * len(shape[2:]), device, dtype=dtype))
    inputs = make_inputs(shape, device, dtype=dtype)
    if device.startswith("cuda"):
        sync(device)
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step(fn, *inputs)
        sync(device)
        return torch.cuda.max_memory_allocated() - before
    before = vm_hwm_bytes()
    step(fn, *inputs)
    return vm_hwm_bytes() - before


def memory_in_fresh_process(shape_key, device, name, threads, dtype_key):
    cmd = [sys.executable, __file__, "--child-memory", name, "--shapes", shape_key, "--device", device,
           "--threads", str(threads), "--dtype", dtype_key]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["bytes"]


def communication_table(shape=(262144, 81), world_sizes=(2, 8, 64)):
    """Bytes per rank per loss call: ours all-reduces 2 float64; the alternative all-gathers logits."""
    n, c = shape
    ours_payload = 2 * 8
    print(f"\nCommunication per loss call at {n}x{c} fp32 (bytes per rank)")
    print("| ranks | ours: all-reduce payload | ours: ring all-reduce traffic | all-gather logits+targets: received |")
    print("|---|---|---|---|")
    for w in world_sizes:
        ring = 2 * (w - 1) / w * ours_payload
        gathered = (w - 1) * n * (c * 4 + 8)
        print(f"| {w} | {ours_payload} B | {ring:.0f} B | {gathered / 2**20:,.1f} MiB |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=DEFAULT_SHAPES, choices=list(SHAPES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=list(DTYPES), help="dtype of the logits")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-memory", action="store_true", help="skip the fresh-process memory runs")
    parser.add_argument("--cases", nargs="+", metavar="SHAPE:DTYPE",
                        help="shape and dtype pairs (e.g. 1048576x81:bf16 8192x81:fp32) instead of --shapes/--dtype")
    parser.add_argument("--variants", nargs="+", help="only these rows (names as printed; the two CE rows always)")
    parser.add_argument("--json", help="also write the rows to this file (make gpu-check puts them in its record)")
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.child_memory:
        shape = SHAPES[args.shapes[0]][0]
        print(json.dumps({"bytes": measure_memory_in_this_process(shape, args.device, args.child_memory,
                                                                 DTYPES[args.dtype])}))
        return

    names = available_variants(args.device)
    if args.variants:
        unknown = sorted(set(args.variants) - set(VARIANTS))
        if unknown:
            parser.error(f"--variants: unknown {unknown}; known: {sorted(VARIANTS)}")
        names = [n for n in names if n in args.variants or n in (BASELINE, SAME_OPTIONS)]
    cases = [(key, args.dtype) for key in args.shapes]
    if args.cases:
        cases = [tuple(case.split(":")) for case in args.cases]
        bad = [c for c in args.cases if len(c.split(":")) != 2 or c.split(":")[0] not in SHAPES
               or c.split(":")[1] not in DTYPES]
        if bad:
            parser.error(f"--cases: expected SHAPE:DTYPE with SHAPE in {sorted(SHAPES)} and DTYPE in "
                         f"{sorted(DTYPES)}, got {bad}")
    cuda = args.device.startswith("cuda")
    versions = f"torch {torch.__version__}"
    if cuda:
        versions += f", {torch.cuda.get_device_name(args.device)}"
        try:
            import triton
            versions += f", Triton {triton.__version__}"
        except ImportError:
            pass
    print(f"{versions}, device {args.device}, {args.threads} threads, {args.rounds} "
          f"rounds; ours and F.cross_entropy: label_smoothing {SMOOTHING}, {IGNORE_FRACTION:.0%} ignored (ours also "
          "alpha, mean_positive); plain F.cross_entropy: no options")
    skipped = [n for n in ("kornia focal_loss", "torchvision sigmoid_focal_loss") if n not in names]
    if skipped:
        print(f"not importable here, rows skipped: {', '.join(skipped)}")
    rows = []
    for key, dtype_key in cases:
        shape, label = SHAPES[key]
        times, first = time_variants(shape, args.device, names, args.rounds, DTYPES[dtype_key])
        memory = {} if args.no_memory else {n: memory_in_fresh_process(key, args.device, n, args.threads, dtype_key)
                                            for n in names}
        launched, syncs = {}, {}
        if cuda:
            inputs = make_inputs(shape, args.device, dtype=DTYPES[dtype_key])
            launched = {n: kernels_per_call(VARIANTS[n], inputs) for n in names}
            syncs = {n: host_syncs_per_call(VARIANTS[n], inputs) for n in names}
        print(f"\n{key} {dtype_key} ({label})", flush=True)
        print("| variant | fwd+bwd median | time / plain CE | time / CE same options | extra peak memory "
              "| memory / plain CE | memory / CE same options | CUDA kernels | host syncs |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name in names:
            mem = (f"{memory[name] / 2**20:,.0f} MiB | {memory[name] / memory[BASELINE]:.2f} | "
                   f"{memory[name] / memory[SAME_OPTIONS]:.2f}" if memory else "- | - | -")
            print(f"| {name} | {times[name] * 1e3:.3f} ms | {times[name] / times[BASELINE]:.2f} | "
                  f"{times[name] / times[SAME_OPTIONS]:.2f} | {mem} | {launched.get(name, '-')} | "
                  f"{syncs.get(name, '-')} |", flush=True)
            rows.append(dict(shape=key, dtype=dtype_key, variant=name, median_ms=round(times[name] * 1e3, 4),
                             time_over_plain_ce=round(times[name] / times[BASELINE], 3),
                             cuda_kernels=launched.get(name), host_syncs=syncs.get(name)))
        if cuda:
            copy = times["copy of the logits"]
            print(f"| copy of the logits (bandwidth floor) | {copy * 1e3:.3f} ms | {copy / times[BASELINE]:.2f} "
                  "| | | | | |")
        for name in COMPILED:
            if name in first:
                print(f"first call of {name} (includes compiling; later shapes reuse it): {first[name]:.1f} s")
    communication_table()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(header=f"{versions}, {args.rounds} rounds", rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
