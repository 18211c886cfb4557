"""The Triton kernels compiled for real GPUs (sm_80, sm_89, sm_90) without one: Triton's compiler and the
ptxas in its wheel, ahead of time (tools/dev/triton_aot_check.py). The interpreter that runs the other
Triton tests never compiles them."""
import ast
import os
import subprocess
import sys

import pytest

from tests.paths import ROOT

TOOL = os.path.join(ROOT, "tools", "dev", "triton_aot_check.py")
triton = pytest.importorskip("triton")
if not os.path.exists(os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")):
    pytest.skip("this Triton wheel ships no NVIDIA toolchain (ptxas, cuobjdump)", allow_module_level=True)
# The tool pops TRITON_INTERPRET before Triton decorates the kernels: run it in its own process.
ENV = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}


def test_what_users_run_compiles_for_sm80_sm89_sm90_without_spills():
    """The CI-sized part: C in {2, 19, 81, 150, 1204} in their layouts, every candidate tile, narrow
    and WIDE offsets (make triton-aot-check runs the rest)."""
    result = subprocess.run([sys.executable, TOOL], capture_output=True, text=True, cwd=ROOT, env=ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "specialisations compiled for sm_80, sm_89, sm_90 without spills or shared memory past the limit" in \
        result.stdout
    for arch in ("sm_80", "sm_89", "sm_90"):
        assert f"| {arch} | " in result.stdout  # the table


SPILLING_TILE = """
import sys
sys.path.insert(0, "tools/dev")
import tempfile, triton
from triton.backends.compiler import GPUTarget
import triton_aot_check as aot
from imbalanced_losses.kernels import triton_focal
src = aot.source(triton_focal.focal_backward_kernel, "fp32", 81, False, aot.BACKWARD_OPTIONS[0], 64, 128)
compiled = triton.compile(src, target=GPUTarget("cuda", 80, 32), options=dict(num_warps=4))
with tempfile.TemporaryDirectory() as folder:
    print(aot.resource_usage(compiled.asm["cubin"], folder))
"""


def test_the_check_sees_a_spill():
    """A tile that was pruned for spilling (64 x 128 at C = 81, 4 warps) shows its stack."""
    result = subprocess.run([sys.executable, "-c", SPILLING_TILE], capture_output=True, text=True, cwd=ROOT, env=ENV,
                            check=True)
    usage = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    assert usage["STACK"] > 0 and usage["REG"] > 0
