#!/usr/bin/env bash
# `make gpu-check`: one command that checks a CUDA machine's setup, writing its reports to
# $GPU_CHECK_DIR (default work_dirs/gpu-check):
#   1. the CUDA tests (tests/kernels/test_cuda.py: every backend against CPU, zero host syncs, kernel count;
#      tests/kernels/test_cuda_graphs.py: reduce-overhead and torch.cuda.graph replays, a bad target in a
#      replay; the compiled-step suite on CUDA) and the backend suite on CUDA tensors;
#   2. the GPU benchmark (tools/analysis_tools/benchmark_loss.py --device cuda, bf16 and fp32 rows);
#   3. where mmcv's CUDA ops are built (make install builds them when torch is a CUDA build and
#      nvcc is on PATH), a short training of the demo config on CUDA (GPU_CHECK_EPOCHS epochs of
#      50 iterations, default 6) and its COCO evaluation.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
OUT=${GPU_CHECK_DIR:-work_dirs/gpu-check}
EPOCHS=${GPU_CHECK_EPOCHS:-6}
CONFIG=configs/retinanet/retinanet_r18-half_fpn_softmax-focal_30e_shapes.py
mkdir -p "$OUT"
"$PY" - <<'PYTHON' | tee "$OUT/versions.txt"
import torch
assert torch.cuda.is_available(), "gpu-check needs a CUDA device; torch sees none"
line = f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}"
try:
    import triton
    line += f", Triton {triton.__version__}"
except ImportError:
    line += ", no Triton (backend='auto' uses eager)"
print(line)
PYTHON
"$PY" -m pytest -q -p no:cacheprovider tests/kernels/test_cuda.py tests/kernels/test_cuda_graphs.py tests/core/test_compiled_step.py \
  tests/kernels/test_backends.py tests/core/test_device_checks.py \
  | tee "$OUT/tests.txt"
"$PY" tools/analysis_tools/benchmark_loss.py --device cuda --dtype bf16 --rounds 25 \
  --shapes 1048576x81 262144x1204 8x19x512x1024 | tee "$OUT/benchmark_bf16.txt"
"$PY" tools/analysis_tools/benchmark_loss.py --device cuda --dtype fp32 --rounds 25 \
  --shapes 1048576x81 65536x1204 8192x81 | tee "$OUT/benchmark_fp32.txt"
if ! "$PY" -c "import torch; from mmcv.ops import nms; nms(torch.zeros(1, 4, device='cuda'), torch.zeros(1, device='cuda'), 0.5)"; then
  echo "mmcv's CUDA ops are not built: the detector check is skipped (see README, 'On a GPU machine')" \
    | tee "$OUT/detector.txt"
  exit 0
fi
test -f data/shapes/annotations/val.json || "$PY" tools/generate_shapes_dataset.py --out data/shapes --seed 0
start=$(date +%s)
"$PY" tools/train.py "$CONFIG" --work-dir "$OUT/demo" --cfg-options "train_cfg.max_epochs=$EPOCHS"
"$PY" tools/test.py "$CONFIG" "$(cat "$OUT/demo/last_checkpoint")" --work-dir "$OUT/demo" 2>&1 | tee "$OUT/detector.txt"
echo "detector: $EPOCHS epochs of training and the evaluation took $(( $(date +%s) - start )) s" | tee -a "$OUT/detector.txt"
