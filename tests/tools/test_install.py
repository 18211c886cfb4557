"""The Makefile's default MAX_JOBS for mmcv's build follows the machine and can be overridden;
mmcv's CUDA ops are built only with a CUDA torch and nvcc."""
import os
import shutil
import subprocess
import sys

import pytest

from tests.paths import ROOT

GIB_KB = 1048576


def max_jobs(**env):
    result = subprocess.run(["bash", os.path.join(ROOT, "tools", "dev", "max_jobs.sh")], capture_output=True, text=True,
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
        return [line for line in result.stdout.splitlines() if "pip install" in line and "--no-build-isolation" in line]

    assert len(planned()) == 1 and f" MAX_JOBS={max_jobs()} " in planned()[0]
    assert " MAX_JOBS=7 " in planned("MAX_JOBS=7")[0]
    assert " MAX_JOBS=5 " in planned(env=dict(MAX_JOBS="5"))[0]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_cuda_ops_only_with_a_cuda_torch_and_nvcc():
    import torch
    clean = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    rule = subprocess.run(["make", "-n", "-B", "install"], cwd=ROOT, capture_output=True, text=True, env=clean,
                          check=True).stdout
    probe = rule.split("FORCE_CUDA=$(", 1)[1].split(") MAX_JOBS", 1)[0]
    python_code = probe.split(" -c ", 1)[1].strip().strip('"')
    expected = int(bool(torch.version.cuda) and shutil.which("nvcc") is not None)  # here: CPU torch -> 0
    result = subprocess.run([sys.executable, "-c", python_code], capture_output=True, text=True, check=True)
    assert int(result.stdout) == expected


HIDE_AND_IMPORT = """
import importlib, importlib.util, sys
hidden, module = sys.argv[1], sys.argv[2]
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name == hidden else find_spec(name, *a)  # not installed
try:
    importlib.import_module(module)
except ImportError as error:
    print(error)
"""


@pytest.mark.parametrize("module, hidden, extra", [
    ("imbalanced_losses.mmdet", "mmdet", "mmdet"),
    ("imbalanced_losses.mmseg", "mmseg", "mmseg"),
    ("imbalanced_losses.openmmlab", "mmengine", "mmdet"),
    ("imbalanced_losses.torchvision", "torchvision", "torchvision"),
])
def test_codebase_package_without_its_codebase_names_the_extra_in_one_line(module, hidden, extra):
    result = subprocess.run([sys.executable, "-c", HIDE_AND_IMPORT, hidden, module], capture_output=True, text=True,
                            check=True, cwd=ROOT)
    assert result.stdout.count("\n") == 1 and f"pip install 'imbalanced-losses[{extra}]'" in result.stdout


@pytest.mark.parametrize("codebase, registry", [("mmdet", "mmdet.registry"), ("mmseg", "mmseg.registry")])
def test_importing_one_codebase_package_alone_registers_the_loss_for_it(codebase, registry):
    """A segmentation config imports only imbalanced_losses.mmseg (a detection one only .mmdet), and
    type='SoftmaxFocalLoss' builds from that codebase's registry; neither package imports the other."""
    pytest.importorskip(codebase)
    code = (f"import sys, imbalanced_losses.{codebase}\n"
            f"from {registry} import MODELS\n"
            "loss = MODELS.build(dict(type='SoftmaxFocalLoss', gamma=1.0))\n"
            "other = {'mmdet': 'imbalanced_losses.mmseg', 'mmseg': 'imbalanced_losses.mmdet'}" f"['{codebase}']\n"
            "print(type(loss).__name__, loss.gamma, other in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.split() == ["OpenMMLabSoftmaxFocalLoss", "1.0", "False"]
