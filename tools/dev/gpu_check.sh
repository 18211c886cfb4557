#!/usr/bin/env bash
# `make gpu-check`: the GPU verification (tools/dev/gpu_check.py says what it runs, its budget and the
# files it writes into $GPU_CHECK_OUT). On a bare GPU machine, from the repository root:
#     GPU_CHECK_OUT=$OUT bash tools/dev/gpu_check.sh
# The plan on CPU (the launches recorded, nothing run; part of make test): GPU_CHECK_DRY_RUN=1 bash tools/dev/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${PY:-}" ]; then PY=.venv/bin/python; test -x "$PY" || PY=python3; fi
exec "$PY" -u tools/dev/gpu_check.py
