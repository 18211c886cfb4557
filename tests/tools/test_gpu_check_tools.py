"""make gpu-check's pieces, dry-run on CPU: the verification record writer (it reads our own
pytest JUnit report, refuses to write after a failure, replaces a record of the same GPU and
Triton version) and the sanitizer's specialisation cases (under Triton's interpreter here)."""
import json
import os
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
<testcase classname="tests.kernels.test_cuda" name="test_triton_past_2_31[shape0]"><skipped message="GiB"/>
</testcase>
<testcase classname="tests.kernels.test_triton_layouts" name="test_target_dtypes[dtype0]" />
{extra}
</testsuite></testsuites>"""


def _junit(tmp_path, extra=""):
    path = tmp_path / "tests.xml"
    path.write_text(JUNIT.format(extra=extra))
    return str(path)


def test_the_summary_counts_outcomes_and_triton_tests(tmp_path):
    summary = write_gpu_record.test_summary([_junit(tmp_path)])
    assert (summary["passed"], summary["skipped"], summary["failed"], summary["errors"]) == (2, 1, 0, 0)
    assert summary["triton_passed"] == 1 and summary["past_2_31_elements"] == dict(passed=0, skipped=1)
    assert summary["modules"] == ["tests.kernels.test_cuda", "tests.kernels.test_triton_layouts"]


def test_a_failure_in_the_report_is_counted(tmp_path):
    extra = '<testcase classname="tests.kernels.test_cuda" name="test_x"><failure message="no"/></testcase>'
    assert write_gpu_record.test_summary([_junit(tmp_path, extra)])["failed"] == 1


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
    assert verification.load_records() == ()  # the committed file is untouched


@needs_triton
def test_the_sanitizer_cases_match_eager_under_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1", PYTHONWARNINGS="ignore")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dev", "triton_sanitizer_cases.py")],
                            capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "63 of 63 Triton specialisation cases match eager on cpu" in result.stdout


def test_the_writer_dry_run_prints_the_record_and_writes_nothing(tmp_path):
    records = tmp_path / "verified_gpus.json"
    records.write_text("[]\n")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "dev", "write_gpu_record.py"), "--dry-run",
                             "--junit", _junit(tmp_path), "--records", str(records), "--sanitizer", "not installed"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.split("nothing written):", 1)[1])
    assert set(verification.RECORD_FIELDS) <= set(record) and record["tests"]["passed"] == 2
    assert record["tests"]["sanitizer"] == "not installed"
    assert json.loads(records.read_text()) == []
