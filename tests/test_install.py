"""The Makefile's default MAX_JOBS for mmcv's build follows the machine and can be overridden."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIB_KB = 1048576


def max_jobs(**env):
    result = subprocess.run(["bash", os.path.join(ROOT, "tools", "max_jobs.sh")], capture_output=True, text=True,
                            env=dict(os.environ, **{k: str(v) for k, v in env.items()}), check=True)
    return int(result.stdout)


@pytest.mark.parametrize("cores, available_gb, expected", [
    (2, 24, 2),  # these machines: the cores bound it
    (16, 128, 16),
    (16, 20, 6),  # memory bounds it: 3 GB per compiler job
    (8, 2, 1),  # at least one job
])
def test_max_jobs_is_bounded_by_cores_and_memory(cores, available_gb, expected):
    assert max_jobs(CORES=cores, MEM_AVAILABLE_KB=available_gb * GIB_KB) == expected


def test_max_jobs_reads_this_machine():
    assert 1 <= max_jobs() <= os.cpu_count()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_uses_it_and_honours_an_override():
    # a clean environment: no MAX_JOBS, and none of the flags of a `make test` that runs this
    clean = {k: v for k, v in os.environ.items() if k not in ("MAX_JOBS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}

    def planned(*args, env=None):
        result = subprocess.run(["make", "-n", "-B", "install", *args], cwd=ROOT, capture_output=True, text=True,
                                env=dict(clean, **(env or {})), check=True)
        return [line for line in result.stdout.splitlines() if line.startswith("MAX_JOBS=")]

    assert planned() == [f"MAX_JOBS={max_jobs()} .venv/bin/python -m pip install --no-build-isolation -e "
                         "\".[mmdet,test]\""]
    assert planned("MAX_JOBS=7")[0].startswith("MAX_JOBS=7 ")
    assert planned(env=dict(MAX_JOBS="5"))[0].startswith("MAX_JOBS=5 ")
