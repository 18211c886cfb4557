#!/usr/bin/env bash
# `make gpu-check`: what a CUDA machine must prove before backend='auto' takes the Triton kernels
# there. Reports go to $GPU_CHECK_DIR (default work_dirs/gpu-check):
#   1. the exactness tests on CUDA tensors (tests/kernels/test_cuda.py: every backend against CPU,
#      zero host syncs, kernel counts, the past-2**31 shapes against eager in chunks where memory
#      allows, two devices where there are two; test_cuda_graphs.py: reduce-overhead and
#      torch.cuda.graph replays, a bad target in a replay; test_triton_layouts.py: every layout a
#      user can hand us against eager; the backend, compiled-step and device-check suites);
#   2. one case per kernel specialisation under compute-sanitizer's memcheck, where it is installed
#      (tools/dev/triton_sanitizer_cases.py);
#   3. the GPU benchmark (tools/analysis_tools/benchmark_loss.py --device cuda, bf16 and fp32 rows);
#   4. where mmcv's CUDA ops are built, a short training of the demo config on CUDA (GPU_CHECK_EPOCHS
#      epochs of 50 iterations, default 6) and its COCO evaluation;
#   5. when all of that passed (set -e stops it before otherwise): the verification record
#      (tools/dev/write_gpu_record.py) into imbalanced_losses/kernels/verified_gpus.json, with a copy in
#      $GPU_CHECK_DIR. Commit it: it turns backend='auto' to the kernels for this compute capability
#      and Triton version.
# On a bare GPU machine without .venv (no mmcv): PY=python3 bash tools/dev/gpu_check.sh
# Dry run on a CPU machine, as far as it goes (the CUDA tests skip, the kernels run in Triton's
# interpreter, a small CPU benchmark, the record printed, not written): GPU_CHECK_DRY_RUN=1 bash tools/dev/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${PY:-}" ]; then PY=.venv/bin/python; test -x "$PY" || PY=python3; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset TRITON_INTERPRET  # the kernels compiled for the GPU (a dry run sets it again below)
OUT=${GPU_CHECK_DIR:-work_dirs/gpu-check}
EPOCHS=${GPU_CHECK_EPOCHS:-6}
CONFIG=configs/retinanet/retinanet_r18-half_fpn_softmax-focal_30e_shapes.py
DRY=${GPU_CHECK_DRY_RUN:-0}
DEVICE=cuda
if [ "$DRY" = 1 ]; then DEVICE=cpu; export TRITON_INTERPRET=1; fi
mkdir -p "$OUT"
GPU_CHECK_DRY_RUN=$DRY "$PY" - <<'PYTHON' | tee "$OUT/versions.txt"
import os
import torch
assert torch.cuda.is_available() or os.environ["GPU_CHECK_DRY_RUN"] == "1", \
    "gpu-check needs a CUDA device; torch sees none (GPU_CHECK_DRY_RUN=1 runs it on CPU as far as it goes)"
line = f"torch {torch.__version__}, CUDA {torch.version.cuda}, " + (
    torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU: a dry run")
try:
    import triton
    line += f", Triton {triton.__version__}"
except ImportError:
    line += ", no Triton (backend='auto' uses eager)"
print(line)
PYTHON
"$PY" -m pytest -q -p no:cacheprovider --junitxml="$OUT/tests.xml" \
  tests/kernels/test_cuda.py tests/kernels/test_cuda_graphs.py tests/kernels/test_triton_layouts.py \
  tests/core/test_compiled_step.py tests/kernels/test_backends.py tests/kernels/test_backend_policy.py \
  tests/core/test_device_checks.py \
  | tee "$OUT/tests.txt"
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1 || true)
if [ "$DRY" = 1 ]; then sanitizer=""; fi
if [ -n "$sanitizer" ]; then
  # no caching allocator: memcheck sees each tensor's own bounds; no autotuning: one launch per case
  PYTORCH_NO_CUDA_MEMORY_CACHING=1 IMBALANCED_LOSSES_TRITON_AUTOTUNE=0 \
    "$sanitizer" --tool memcheck --error-exitcode 1 "$PY" tools/dev/triton_sanitizer_cases.py | tee "$OUT/sanitizer.txt"
  sanitizer_note="memcheck: $(grep -Eo 'ERROR SUMMARY: [0-9]+ errors?' "$OUT/sanitizer.txt" | tail -1 || echo 'ran'); $(grep -Eo '^[0-9]+ of [0-9]+ .*' "$OUT/sanitizer.txt")"
else
  echo "compute-sanitizer is not installed: the specialisation cases run without it" | tee "$OUT/sanitizer.txt"
  "$PY" tools/dev/triton_sanitizer_cases.py | tee -a "$OUT/sanitizer.txt"
  sanitizer_note="not installed; cases without it: $(grep -Eo '^[0-9]+ of [0-9]+ .*' "$OUT/sanitizer.txt")"
fi
if [ "$DRY" = 1 ]; then
  "$PY" tools/analysis_tools/benchmark_loss.py --device cpu --dtype fp32 --rounds 3 --no-memory \
    --shapes 8192x81 --json "$OUT/benchmark_fp32.json" | tee "$OUT/benchmark_fp32.txt"
  "$PY" tools/dev/write_gpu_record.py --dry-run --junit "$OUT/tests.xml" --benchmark "$OUT/benchmark_fp32.json" \
    --sanitizer "$sanitizer_note"
  exit 0
fi
"$PY" tools/analysis_tools/benchmark_loss.py --device cuda --dtype bf16 --rounds 50 --no-memory \
  --shapes 1048576x81 262144x1204 8x19x512x1024 --json "$OUT/benchmark_bf16.json" | tee "$OUT/benchmark_bf16.txt"
"$PY" tools/analysis_tools/benchmark_loss.py --device cuda --dtype fp32 --rounds 50 --no-memory \
  --shapes 1048576x81 65536x1204 8192x81 --json "$OUT/benchmark_fp32.json" | tee "$OUT/benchmark_fp32.txt"
if "$PY" -c "import torch; from mmcv.ops import nms; nms(torch.zeros(1, 4, device='cuda'), torch.zeros(1, device='cuda'), 0.5)"; then
  test -f data/shapes/annotations/val.json || "$PY" tools/generate_shapes_dataset.py --out data/shapes --seed 0
  start=$(date +%s)
  "$PY" tools/train.py "$CONFIG" --work-dir "$OUT/demo" --cfg-options "train_cfg.max_epochs=$EPOCHS"
  "$PY" tools/test.py "$CONFIG" "$(cat "$OUT/demo/last_checkpoint")" --work-dir "$OUT/demo" 2>&1 | tee "$OUT/detector.txt"
  echo "detector: $EPOCHS epochs of training and the evaluation took $(( $(date +%s) - start )) s" | tee -a "$OUT/detector.txt"
else
  echo "mmcv's CUDA ops are not built: the detector check is skipped (docs/guides/installation.md, 'On a GPU machine')" \
    | tee "$OUT/detector.txt"
fi
"$PY" tools/dev/write_gpu_record.py --junit "$OUT/tests.xml" --benchmark "$OUT/benchmark_bf16.json" "$OUT/benchmark_fp32.json" \
  --sanitizer "$sanitizer_note" --out "$OUT"
