"""`make gpu-check` (tools/dev/gpu_check.sh): what a CUDA machine must prove before
``backend='auto'`` takes the Triton kernels there, sized for a short GPU lease on a bare machine
(python3, torch, Triton, pytest, numpy; no make, no install, no mmcv).

The plan (``STEPS``): only what needs a GPU (CI runs the CPU backends), each step with its own
timeout inside one budget (``GPU_CHECK_BUDGET_S``, 360 s), output unbuffered, every result written
into ``GPU_CHECK_OUT`` (default work_dirs/gpu-check) as it is produced. At most 8 files come back:

    gpu_check.log        everything every step printed, as it printed it
    tests_triton.xml, tests_graphs.xml   the pytest JUnit reports
    tests_summary.txt    one line per test: outcome, seconds, test id
    benchmark.json       fwd+bwd medians and ratios (tools/analysis_tools/benchmark_loss.py)
    record.json          the new verification record alone (only when everything passed)
    verified_gpus.json   the committed records with the new one merged: commit it as
                         imbalanced_losses/kernels/verified_gpus.json (also written there in place)

A failing or timed-out step does not stop the others (the benchmark still reports); the record is
written only when every step passed (tools/dev/write_gpu_record.py says what that means).
``compute-sanitizer`` is probed first: one that is missing or cannot attach to the device ("Device
not supported") is recorded as ``sanitizer: unavailable (<why>)`` and the cases run without it.

Dry run on CPU (``GPU_CHECK_DRY_RUN=1``, part of ``make test``): every step's Triton launches are
recorded as the specialisations Triton's JIT would compile, and skipped (tests/gpu_check_recorder.py),
to print the plan (step, cases, Triton compiles, inductor graphs, estimated seconds) and fail where
it exceeds ``BUDGET``. How the seconds are estimated: ``ESTIMATE``.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from typing import NamedTuple, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PY = [sys.executable, "-u"]

# The GPU's own tests: Triton against CPU eager and the float64 reference (the fuzz included), every
# layout, the tiles' determinism, the device-side checks; the CUDA-only checks (no host sync, kernel
# counts, the past-2**31 shapes) in test_cuda.py.
# The compile backend's CUDA values are left to the graphs step (inductor compiles are the dearest).
TRITON_TESTS = ("tests/kernels/test_cuda.py", "tests/kernels/test_triton_layouts.py",
                "tests/kernels/test_triton_tiles.py", "tests/kernels/test_backends.py",
                "tests/core/test_device_checks.py", "-k",
                "(triton or cuda) and not (test_cuda_matches_cpu_eager and compile)")
# The float64-reference fuzz: 4 seeds x 4 reductions on the GPU (CI runs 40 in the interpreter): each
# seed's random options and class count are new kernels to compile.
FUZZ_SEEDS = "4"
# CUDA graphs (reduce-overhead and a manual capture) and the compiled step on CUDA through the custom ops.
GRAPH_TESTS = ("tests/kernels/test_cuda_graphs.py", "tests/core/test_compiled_step.py", "-k",
               "test_manual_cuda_graph or (test_reduce_overhead and not compile) or "
               "(test_cuda_compiled_step and triton)")
# The benchmark: issue 52's shapes, ours (eager and Triton) against plain F.cross_entropy.
BENCHMARK_CASES = ("1048576x81:bf16", "1048576x81:fp32", "262144x1204:bf16", "8x19x512x1024:bf16",
                   "65536x1204:fp32", "8192x81:fp32")


class Step(NamedTuple):
    name: str
    argv: Tuple[str, ...]
    timeout_s: int
    junit: Optional[str] = None  # the JUnit report a pytest step writes
    # What the dry run cannot see (CUDA-only code skips on CPU), declared with its reason:
    declared_compiles: int = 0
    declared_graphs: int = 0
    declared_cases: int = 0
    why_declared: str = ""


def pytest_argv(selection, junit):
    return tuple(PY) + ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEs", f"--junitxml={junit}") + selection


def steps(out):
    """The plan, in order (``out``: the output folder)."""
    return (
        Step("exactness tests", pytest_argv(TRITON_TESTS, os.path.join(out, "tests_triton.xml")), 200,
             junit="tests_triton.xml", declared_compiles=4,
             why_declared="the two past-2**31 shapes (forward and backward each, WIDE) need GPU memory, not run "
                          "in the dry run"),
        Step("CUDA graphs and compiled steps", pytest_argv(GRAPH_TESTS, os.path.join(out, "tests_graphs.xml")), 150,
             junit="tests_graphs.xml", declared_graphs=6,
             why_declared="CUDA only: 2 reduce-overhead steps (eager, triton), 2 compiled steps (triton; (N, C) and "
                          "(N, C, H, W)), the compile backend's 2 functions in a manual capture (the Triton launches "
                          "are test_cuda.py's detector case: no new compile)"),
        Step("sanitizer cases", tuple(PY) + ("tools/dev/triton_sanitizer_cases.py",), 100),
        Step("benchmark", tuple(PY) + ("tools/analysis_tools/benchmark_loss.py", "--device", "cuda", "--rounds", "25",
                                        "--no-memory", "--variants", "ours, eager", "ours, triton",
                                        "--json", os.path.join(out, "benchmark.json"), "--cases") + BENCHMARK_CASES,
             90, declared_compiles=2 * len(BENCHMARK_CASES), declared_cases=len(BENCHMARK_CASES),
             why_declared="one forward and one backward specialisation per shape and dtype (GPU-sized inputs)"),
    )


# The budget the plan must fit (the dry run fails past it): compiles and cases, and the estimate.
BUDGET = dict(triton_compiles=200, inductor_graphs=8, cases=300, estimated_s=300, command_s=360)
# Seconds, calibrated from what was measured (shared/DESIGN.md 15; no GPU has run this plan yet):
# a Triton compile for sm_90 took 0.6 s (forward) and 0.3 s (backward) of CPU on a 2-core machine of
# ours, ahead of time (the compiler and ptxas the JIT runs); with the JIT's own work (cache lookup,
# load) count 0.6 s a compile. An inductor graph: about 10 s (the first-call compile of two small
# functions took ~20 s on 2 cores here). A test case after its compiles: 0.1 s; under memcheck 0.5 s.
# A process (python, torch, the CUDA context): 8 s. A benchmark row: 25 rounds of 4 variants at up to
# 3 ms, the warm-up and the profiler and sync passes: 4 s. The sanitizer probe: 15 s.
ESTIMATE = dict(triton_compile=0.6, inductor_graph=10.0, case=0.1, sanitized_case=0.5, process=8.0,
                benchmark_row=4.0, probe=15.0)


def log(line, handle):
    print(line, flush=True)
    handle.write(line + "\n")
    handle.flush()


def run_step(argv, timeout_s, handle, env=None):
    """Run ``argv`` from the repository root, its output streamed to the log; (returncode, text).
    A timeout kills it and returns 124."""
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, bufsize=1)
    deadline, lines = time.monotonic() + timeout_s, []
    try:
        import selectors
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                process.kill()
                log(f"[gpu-check] timed out after {timeout_s} s", handle)
                process.wait()
                return 124, "".join(lines)
            if selector.select(timeout=min(remaining, 1.0)):
                line = process.stdout.readline()
                if not line:
                    break
                lines.append(line)
                log(line.rstrip("\n"), handle)
        return process.wait(), "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()


def probe_sanitizer(handle, timeout_s=60):
    """'available', or 'unavailable (<why>)': not installed, or it cannot attach to this device."""
    sanitizer = shutil.which("compute-sanitizer") or next(
        (p for p in sorted(glob_paths("/usr/local/cuda*/bin/compute-sanitizer"))), None)
    if sanitizer is None:
        return None, "unavailable (compute-sanitizer is not installed)"
    code, text = run_step([sanitizer, "--tool", "memcheck", "--error-exitcode", "1", sys.executable, "-c",
                           "import torch; print(float(torch.ones(4, device='cuda').sum()))"], timeout_s, handle)
    if code == 0 and re.search(r"ERROR SUMMARY: 0 errors", text):
        return sanitizer, "available"
    why = next((line.strip() for line in text.splitlines() if re.search(r"(?i)not supported|error", line)),
               f"exit code {code}")
    return None, f"unavailable ({why[:160]})"


def glob_paths(pattern):
    import glob
    return glob.glob(pattern)


def junit_lines(path):
    """One line per test case of a JUnit report: outcome, seconds, id."""
    lines = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), "passed")
        lines.append(f"{outcome:8} {float(case.get('time', 0)):7.2f}s {case.get('classname')}::{case.get('name')}")
    return lines


def run(out, budget_s):
    os.makedirs(out, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1",
               IMBALANCED_LOSSES_FUZZ_SEEDS=FUZZ_SEEDS)
    env.pop("TRITON_INTERPRET", None)
    start = time.monotonic()
    failed = []
    with open(os.path.join(out, "gpu_check.log"), "a") as handle:
        def remaining():
            return budget_s - (time.monotonic() - start)
        code, _ = run_step(PY + ["-c", VERSIONS], 60, handle, env)
        if code:
            log("[gpu-check] no CUDA device or no torch: nothing else runs", handle)
            return 1
        sanitizer, sanitizer_status = probe_sanitizer(handle)
        log(f"[gpu-check] sanitizer: {sanitizer_status}", handle)
        for step in steps(out):
            timeout = int(min(step.timeout_s, remaining() - 20))  # 20 s kept for the record
            if timeout <= 0:
                log(f"[gpu-check] {step.name}: not run, the budget of {budget_s} s is spent", handle)
                failed.append(step.name)
                continue
            argv = list(step.argv)
            if step.name == "sanitizer cases" and sanitizer:
                argv = [sanitizer, "--tool", "memcheck", "--error-exitcode", "1"] + argv
            log(f"[gpu-check] {step.name} (timeout {timeout} s, {remaining():.0f} s of the budget left)", handle)
            step_env = dict(env, PYTORCH_NO_CUDA_MEMORY_CACHING="1") if step.name == "sanitizer cases" and \
                sanitizer else env  # memcheck sees each tensor's own bounds
            code, text = run_step(argv, timeout, handle, step_env)
            if step.name == "sanitizer cases":
                errors = re.findall(r"ERROR SUMMARY: (\d+) error", text)
                sanitizer_status = (f"passed ({errors[-1] if errors else 0} errors)" if sanitizer and code == 0 else
                                    f"errors ({errors[-1] if errors else 'exit ' + str(code)})" if sanitizer else
                                    sanitizer_status)
            if step.junit and os.path.exists(os.path.join(out, step.junit)):
                with open(os.path.join(out, "tests_summary.txt"), "a") as summary:
                    summary.write("\n".join(junit_lines(os.path.join(out, step.junit))) + "\n")
            log(f"[gpu-check] {step.name}: {'passed' if code == 0 else 'FAILED (exit %d)' % code} "
                f"after {time.monotonic() - start:.0f} s", handle)
            if code:
                failed.append(step.name)
        if failed:
            log(f"[gpu-check] no record: {', '.join(failed)} did not pass", handle)
            return 1
        code, _ = run_step(PY + ["tools/dev/write_gpu_record.py", "--junit", os.path.join(out, "tests_triton.xml"),
                                 os.path.join(out, "tests_graphs.xml"), "--benchmark",
                                 os.path.join(out, "benchmark.json"), "--sanitizer", sanitizer_status, "--out", out],
                           60, handle, env)
        log(f"[gpu-check] done in {time.monotonic() - start:.0f} s: "
            f"{'record written to ' + out if code == 0 else 'no record'}", handle)
        return code


VERSIONS = """
import torch
assert torch.cuda.is_available(), "gpu-check needs a CUDA device; torch sees none (GPU_CHECK_DRY_RUN=1 plans on CPU)"
line = f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}"
try:
    import triton
    line += f", Triton {triton.__version__}"
except ImportError:
    line += ", no Triton"
print(line)
"""


def dry_run():
    """The plan on CPU: each step's cases, Triton specialisations and inductor graphs, recorded with
    the launches skipped; the estimate; exit 1 past the budget."""
    rows, totals = [], dict(cases=0, triton_compiles=0, inductor_graphs=0, estimated_s=0.0)
    all_keys = set()
    with tempfile.TemporaryDirectory() as folder:
        for step in steps(folder):
            record = os.path.join(folder, "record.json")
            env = dict(os.environ, PYTHONPATH=ROOT, GPU_CHECK_RECORD=record, TRITON_INTERPRET="1",
                       PYTHONWARNINGS="ignore", IMBALANCED_LOSSES_FUZZ_SEEDS=FUZZ_SEEDS)
            argv = list(step.argv)
            if step.junit:
                argv[4:4] = ["-p", "tests.gpu_check_recorder"]  # after "python -u -m pytest"
            elif step.name == "benchmark":
                argv = None  # GPU-sized inputs: declared
            else:  # a script: install the recorder first
                argv = PY + ["-c", "import runpy, sys; from tests.gpu_check_recorder import install; install(); "
                                   f"sys.argv = {argv[2:]!r}; runpy.run_path(sys.argv[0], run_name='__main__')"]
            keys, graphs, cases = set(), 0, 0
            if argv:
                result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True)
                with open(record) as f:
                    counted = json.load(f)
                keys, graphs = set(counted["triton_keys"]), counted["inductor_graphs"]
                cases = counted["cases"] if counted["cases"] is not None else 0
                if step.name == "sanitizer cases":  # the script prints "<k> of <n> ... cases"
                    cases = int(re.search(r"of (\d+) Triton specialisation cases", result.stdout).group(1))
            new_keys = keys - all_keys  # a specialisation compiled by an earlier step is cached
            all_keys |= keys
            compiles = len(new_keys) + step.declared_compiles
            graphs += step.declared_graphs
            cases += step.declared_cases
            per_case = dict(benchmark=ESTIMATE["benchmark_row"]).get(
                step.name, ESTIMATE["sanitized_case"] if step.name == "sanitizer cases" else ESTIMATE["case"])
            seconds = (ESTIMATE["process"] + compiles * ESTIMATE["triton_compile"] + graphs * ESTIMATE["inductor_graph"]
                       + cases * per_case)
            rows.append((step.name, cases, compiles, graphs, seconds, step.timeout_s, step.why_declared))
            totals["cases"] += cases
            totals["triton_compiles"] += compiles
            totals["inductor_graphs"] += graphs
            totals["estimated_s"] += seconds
    totals["estimated_s"] += ESTIMATE["process"] + ESTIMATE["probe"]  # the versions and the sanitizer probe
    print("| step | cases | Triton compiles | inductor graphs | estimated s | timeout s |")
    print("|---|---|---|---|---|---|")
    print(f"| versions, sanitizer probe | - | - | - | {ESTIMATE['process'] + ESTIMATE['probe']:.0f} | 60 + 60 |")
    for name, cases, compiles, graphs, seconds, timeout, _ in rows:
        print(f"| {name} | {cases} | {compiles} | {graphs} | {seconds:.0f} | {timeout} |")
    print(f"| total | {totals['cases']} | {totals['triton_compiles']} | {totals['inductor_graphs']} | "
          f"{totals['estimated_s']:.0f} | budget {BUDGET['command_s']} |")
    for name, *_, why in rows:
        if why:
            print(f"declared for {name}: {why}")
    over = [f"{key} {totals[key]:.0f} > {BUDGET[key]}" for key in ("cases", "triton_compiles", "inductor_graphs",
                                                                    "estimated_s") if totals[key] > BUDGET[key]]
    if over:
        print("the plan exceeds its budget: " + "; ".join(over))
        return 1
    print(f"the plan fits its budget ({', '.join(f'{k} <= {v}' for k, v in BUDGET.items())})")
    return 0


def main():
    if os.environ.get("GPU_CHECK_DRY_RUN") == "1":
        sys.exit(dry_run())
    budget = int(os.environ.get("GPU_CHECK_BUDGET_S", BUDGET["command_s"]))
    sys.exit(run(os.path.abspath(os.environ.get("GPU_CHECK_OUT", os.path.join(ROOT, "work_dirs", "gpu-check"))),
                 budget))


if __name__ == "__main__":
    main()
