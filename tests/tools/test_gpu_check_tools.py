"""make gpu-check's pieces, dry-run on CPU: the verification record writer (it reads our own
pytest JUnit report, refuses to write after a failure, replaces a record of the same GPU and
Triton version) and the sanitizer's specialisation cases (under Triton's interpreter here)."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.cases import needs_triton
from tests.paths import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))
import write_gpu_record  # noqa: E402

from imbalanced_losses.kernels import verification  # noqa: E402

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.kernels.test_cuda" name="test_cuda_matches_cpu_eager[triton-dtype0-3]" />
<testcase classname="tests.kernels.test_cuda" name="test_triton_past_2_31_elements_matches_eager_in_chunks[shape0]">
<skipped message="needs about 40 GiB of free GPU memory, 30 free"/></testcase>
<testcase classname="tests.kernels.test_triton_layouts" name="test_target_dtypes[dtype0]" />
{extra}
</testsuite></testsuites>"""


def _junit(tmp_path, extra=""):
    path = tmp_path / "tests.xml"
    path.write_text(JUNIT.format(extra=extra))
    return str(path)


def test_the_summary_counts_outcomes_and_triton_tests(tmp_path):
    summary, refused = write_gpu_record.test_summary([_junit(tmp_path)])
    assert (summary["passed"], summary["skipped"], summary["failed"], summary["errors"]) == (2, 1, 0, 0)
    assert summary["triton_passed"] == 1 and refused == []
    assert summary["skips"] == ["tests.kernels.test_cuda::test_triton_past_2_31_elements_matches_eager_in_chunks"
                                "[shape0]: needs about 40 GiB of free GPU memory, 30 free"]
    assert summary["modules"] == ["tests.kernels.test_cuda", "tests.kernels.test_triton_layouts"]


def test_a_failure_and_a_skip_without_an_allowed_reason_are_counted(tmp_path):
    extra = ('<testcase classname="tests.kernels.test_cuda" name="test_x"><failure message="no"/></testcase>'
             '<testcase classname="tests.kernels.test_cuda" name="test_y[a]"><skipped message="flaky"/></testcase>')
    summary, refused = write_gpu_record.test_summary([_junit(tmp_path, extra)])
    assert summary["failed"] == 1 and refused == ["test_y[a] (flaky)"]


def _benchmark(tmp_path, triton_ms=0.5):
    """Rows as benchmark_loss.py --json writes them: one shape where Triton is ``triton_ms``."""
    rows = [dict(shape="1048576x81", dtype="bf16", variant=variant, median_ms=ms, time_over_plain_ce=ms / 2.46,
                 cuda_kernels=None, host_syncs=0)
            for variant, ms in (("plain F.cross_entropy", 2.46), ("F.cross_entropy", 2.5), ("ours, eager", 3.25),
                                ("ours, triton", triton_ms))]
    path = tmp_path / "benchmark.json"
    path.write_text(json.dumps(dict(header="torch 2.11.0, NVIDIA H100 80GB HBM3, 25 rounds", rows=rows)))
    return str(path)


def test_the_ratios_and_where_triton_lost_to_eager(tmp_path):
    with open(_benchmark(tmp_path, triton_ms=4.0)) as f:
        ratios, missing = write_gpu_record.benchmark_ratios([json.load(f)])
    assert missing == [] and ratios == {"1048576x81 bf16": dict(
        triton_over_plain_ce=1.626, triton_over_eager=1.231, eager_over_plain_ce=1.321, triton_host_syncs=0)}
    record = write_gpu_record.make_record({}, [], "available", ratios)
    assert record["triton_slower_than_eager"] == ["1048576x81 bf16"] and record["auto_takes_triton"] is False


@pytest.mark.parametrize("case,message", [
    ("skip", "skipped without an allowed reason: test_y (flaky)"),
    ("sanitizer", "the sanitizer reported 'errors (3)'"),
    ("benchmark", "the benchmark did not finish (no rows)"),
])
def test_the_writer_refuses_what_a_record_cannot_mean(tmp_path, case, message):
    extra = '<testcase classname="tests.kernels.test_cuda" name="test_y"><skipped message="flaky"/></testcase>'
    args = ["--dry-run", "--junit", _junit(tmp_path, extra if case == "skip" else ""),
            "--sanitizer", "errors (3)" if case == "sanitizer" else "unavailable (not installed)"]
    args += [] if case == "benchmark" else ["--benchmark", _benchmark(tmp_path)]
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dev", "write_gpu_record.py")] + args,
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_a_new_record_replaces_the_same_gpu_and_triton_version_only():
    old = dict(device="NVIDIA H100", compute_capability="9.0", triton="3.6.0", date="2026-12-01")
    other = dict(device="NVIDIA A100", compute_capability="8.0", triton="3.6.0", date="2026-12-01")
    new = dict(device="NVIDIA H100", compute_capability="9.0", triton="3.6.1", date="2026-12-05")
    merged = write_gpu_record.merged([old, other], new)
    assert merged == [other, new]
    newer_triton = dict(new, triton="3.7.0")
    assert len(write_gpu_record.merged(merged, newer_triton)) == 3


def test_the_writer_refuses_without_a_gpu(tmp_path):
    records = tmp_path / "verified_gpus.json"
    records.write_text("[]\n")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dev", "write_gpu_record.py"), "--junit",
                             _junit(tmp_path), "--records", str(records)], capture_output=True, text=True, cwd=ROOT)
    if result.returncode == 0:
        pytest.fail("wrote a record on a machine without a CUDA device")
    assert "no CUDA device" in result.stderr or "not writing a record" in result.stderr
    assert json.loads(records.read_text()) == []


@needs_triton
def test_the_sanitizer_cases_match_eager_under_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONWARNINGS="ignore")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dev", "triton_sanitizer_cases.py")],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "42 of 42 Triton specialisation cases match eager on cpu" in result.stdout


def test_the_writer_dry_run_prints_the_record_and_writes_nothing(tmp_path):
    records = tmp_path / "verified_gpus.json"
    records.write_text("[]\n")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dev", "write_gpu_record.py"), "--dry-run",
                             "--junit", _junit(tmp_path), "--records", str(records), "--sanitizer",
                             "unavailable (not installed)", "--benchmark", _benchmark(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.split("nothing written):", 1)[1])
    assert set(verification.RECORD_FIELDS) <= set(record) and record["tests"]["passed"] == 2
    assert record["sanitizer"] == "unavailable (not installed)" and record["auto_takes_triton"] is True
    assert record["ratios"]["1048576x81 bf16"]["triton_over_plain_ce"] == 0.203
    assert json.loads(records.read_text()) == []


def test_the_gpu_check_plan_fits_its_budget():
    """The CPU dry run of make gpu-check: each step's Triton specialisations recorded (nothing runs),
    the plan's table printed, within the budget gpu_check.py states."""
    result = subprocess.run(["bash", os.path.join(ROOT, "tools", "dev", "gpu_check.sh")], capture_output=True,
                            text=True, cwd=ROOT, env=dict(os.environ, GPU_CHECK_DRY_RUN="1", PY=sys.executable))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "the plan fits its budget" in result.stdout
    for step in ("exactness tests", "CUDA graphs and compiled steps", "sanitizer cases", "benchmark", "total"):
        assert f"| {step} |" in result.stdout
    total = next(line for line in result.stdout.splitlines() if line.startswith("| total |")).split("|")
    assert 100 <= int(total[3]) <= 200  # Triton compiles: counted, not zero



def test_a_first_record_committed_into_a_copy_turns_auto_on_there_and_the_core_tests_pass(tmp_path):
    """A realistic H100 record, built by the writer's own pieces, in a copy of the package data: the
    policy tests take Triton on that GPU, and make test-core's list still passes (the ahead-of-time
    compile check left out: it reads no record and takes minutes)."""
    copy = tmp_path / "repo"
    for name in ("imbalanced_losses", "tests"):
        shutil.copytree(os.path.join(ROOT, name), copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "README.md"):  # pytest's settings; the README's examples run verbatim
        shutil.copy(os.path.join(ROOT, name), copy / name)
    tests, _ = write_gpu_record.test_summary([_junit(tmp_path)])
    with open(_benchmark(tmp_path)) as f:
        ratios, _ = write_gpu_record.benchmark_ratios([json.load(f)])
    record = dict(write_gpu_record.make_record(tests, [], "unavailable (Device not supported)", ratios),
                  device="NVIDIA H100 80GB HBM3", compute_capability="9.0", driver="580.95", cuda="13.0",
                  torch="2.11.0+cu130", triton="3.6.0")
    (copy / "imbalanced_losses" / "kernels" / "verified_gpus.json").write_text(json.dumps([record], indent=1))
    with open(os.path.join(ROOT, "tests", "core_tests.txt")) as f:
        core = [line.strip() for line in f if line.strip() and not line.startswith("#")]
    core = [path for path in core if path != "tests/kernels/test_triton_aot.py"]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"] + core,
                            capture_output=True, text=True, cwd=copy, env=dict(env, PYTHONPATH=str(copy)))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert ("PASSED tests/kernels/test_backend_policy.py::"
            "test_auto_takes_triton_on_every_gpu_a_committed_record_covers") in result.stdout
