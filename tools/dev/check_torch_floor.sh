#!/usr/bin/env bash
# The oldest torch that setup.cfg declares, checked: a separate venv with that torch from the
# registry (a CUDA build, ~2.5 GB with its nvidia wheels; it also runs on CPU), the repository on
# PYTHONPATH as a new user would try it, and the core's tests (no OpenMMLab stack: mmcv would have
# to be built against that torch). Its Triton (2.1 beside torch 2.1) is older than our kernels
# need, so the Triton tests skip there and backend='auto' takes eager.
#   bash tools/dev/check_torch_floor.sh            # or: make check-torch-floor
set -euo pipefail
cd "$(dirname "$0")/../.."
TORCH_FLOOR=${TORCH_FLOOR:-2.1}
VENV=${FLOOR_VENV:-.venv-torch-$TORCH_FLOOR}
PYTHON=${PYTHON:-python3}
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "torch==$TORCH_FLOOR.*" "numpy<2" pytest
"$VENV/bin/python" -c "import torch; print('torch', torch.__version__)"
# the core's tests: the one list, tests/core_tests.txt (make test-core runs it on the pinned torch)
PYTHONPATH="$PWD" "$VENV/bin/python" -m pytest -q -p no:cacheprovider $(grep -v '^#' tests/core_tests.txt)
