"""Propose a tile table for the Triton kernels from timings on this GPU (GPU only; nothing tunes at
run time: the kernels read the committed table, ``imbalanced_losses/kernels/triton_tiles.py``).

For each benchmark shape and dtype, times forward+backward (alpha, label smoothing 0.1, 5% ignored,
mean_positive, as tools/analysis_tools/benchmark_loss.py) with every candidate tile of its layout
and class range (triton.testing.do_bench, median), and writes the fastest per (layout, class range,
dtype) as table rows, with every candidate's time, to ``--out``/proposed_tiles.json. A person reads
it, compiles it with ``python tools/dev/triton_aot_check.py --full --table proposed_tiles.json``
(spills fail), and commits the rows into ``triton_tiles.TABLE``.

    python tools/dev/tune_tiles.py --out work_dirs/tiles
"""
import argparse
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from imbalanced_losses import softmax_focal_loss  # noqa: E402
from imbalanced_losses.kernels import triton_focal, triton_tiles  # noqa: E402

SHAPES = {"1048576x81": (1048576, 81), "8192x81": (8192, 81), "262144x1204": (262144, 1204),
          "65536x1204": (65536, 1204), "8x19x512x1024": (8, 19, 512, 1024), "8x150x128x256": (8, 150, 128, 256)}
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def candidates(num_classes, position_contiguous):
    """Tiles to time: 2048 to 8192 elements, 4 or 8 warps, the row in one block or looping."""
    c_pow2 = triton_tiles.next_power_of_2(num_classes)
    tiles = set()
    if position_contiguous:
        for block_c in {min(c_pow2, 16), min(c_pow2, 32)}:
            for size in (2048, 4096, 8192):
                tiles.update(triton_tiles.Tile(size // block_c, block_c, warps, 1) for warps in (4, 8))
    else:
        for block_c in {min(c_pow2, 4096), min(c_pow2, 1024)}:
            for size in (2048, 4096, 8192):
                tiles.update(triton_tiles.Tile(max(1, size // block_c), block_c, warps, 1) for warps in (4, 8))
    return sorted(tiles)


def class_range(num_classes, position_contiguous):
    """The table row (range of C) a shape falls in: the power-of-two range of its one-block row."""
    top = 32 if position_contiguous else 4096
    if num_classes > top:
        return top + 1, None
    c_pow2 = triton_tiles.next_power_of_2(num_classes)
    return c_pow2 // 2 + 1, c_pow2


def time_tile(shape, dtype, tile):
    from triton.testing import do_bench
    gen = torch.Generator(device="cuda").manual_seed(0)
    logits = (torch.randn(shape, device="cuda", generator=gen) * 3).to(dtype).requires_grad_()
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], device="cuda", generator=gen)
    targets[torch.rand(targets.shape, device="cuda", generator=gen) < 0.05] = -100
    alpha = torch.full((shape[1],), 0.25, device="cuda")
    original = triton_focal.tile_for
    triton_focal.tile_for = lambda *args, **kwargs: tile
    try:
        def step():
            logits.grad = None
            softmax_focal_loss(logits, targets, alpha=alpha, gamma=2.0, label_smoothing=0.1,
                               reduction="mean_positive", backend="triton").backward()
        return do_bench(step, warmup=25, rep=100, return_mode="median")
    finally:
        triton_focal.tile_for = original


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="a folder for proposed_tiles.json")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("tune_tiles: no CUDA device; tiles are timed on a GPU only (the committed table needs none)")
    os.makedirs(args.out, exist_ok=True)
    rows, timings = [], []
    for key in args.shapes:
        shape = SHAPES[key]
        position_contiguous = len(shape) > 2 and shape[1] > 1
        for dtype_key in args.dtypes:
            times = {tile: time_tile(shape, DTYPES[dtype_key], tile)
                     for tile in candidates(shape[1], position_contiguous)}
            best = min(times, key=times.get)
            low, high = class_range(shape[1], position_contiguous)
            layout = triton_tiles.POSITION_CONTIGUOUS if position_contiguous else triton_tiles.CLASS_CONTIGUOUS
            rows.append(triton_tiles.TileRow(layout, low, high, best.block_c, best.block_s, best.num_warps,
                                             best.num_stages, dtype=triton_tiles.dtype_name(DTYPES[dtype_key]))
                        ._asdict())
            timings.append(dict(shape=key, dtype=dtype_key, median_ms={
                f"{t.block_s}x{t.block_c} w{t.num_warps} s{t.num_stages}": round(ms, 4) for t, ms in times.items()}))
            print(f"{key} {dtype_key}: best {best} at {times[best]:.4f} ms", flush=True)
    rows += [row._asdict() for row in triton_tiles.TABLE]  # the committed rows cover the rest
    with open(os.path.join(args.out, "proposed_tiles.json"), "w") as f:
        json.dump(dict(device=torch.cuda.get_device_name(), rows=rows, timings=timings), f, indent=1)
    print(f"proposed table written to {os.path.join(args.out, 'proposed_tiles.json')}")


if __name__ == "__main__":
    main()
