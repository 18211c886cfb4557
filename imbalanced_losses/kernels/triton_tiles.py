"""The Triton kernels' tiles: a fixed table, never tuned at run time.

A tile is (BLOCK_S positions) x (BLOCK_C classes) run by ``num_warps`` warps with ``num_stages``
software-pipelining stages. It is looked up from what the kernels already specialise on: the
layout (which axis of the logits is contiguous), the class count (in power-of-two ranges), the
logits' dtype, and narrow (int32) or WIDE (int64) offsets. So the same inputs run the same tile,
the same partial sums and give the same bits in every process and on every DDP rank, and a launch
after the first of its shape class neither compiles nor benchmarks (a CUDA graph captures it).
Runtime autotuning did neither: it picked tiles per process from noisy timings, and benchmarked
on the first call of a new key (fatal inside CUDA-graph capture).

The table (every dtype, narrow and WIDE alike today; a row may name one of them):

| layout | classes C | BLOCK_C | BLOCK_S | warps | stages |
|---|---|---|---|---|---|
| class-contiguous ((N, C), channels-last) | 1 .. 4096 | next power of 2 >= C | 4096 / BLOCK_C | 8 | 1 |
| class-contiguous | > 4096 (the row loops) | 4096 | 1 | 8 | 1 |
| position-contiguous (NCHW) | 1 .. 32 | next power of 2 >= C | 4096 / BLOCK_C | 8 | 1 |
| position-contiguous | > 32 (the row loops) | 32 | 128 | 8 | 1 |

About 4096 elements a tile with the contiguous axis the long one: compiled for sm_80, sm_89 and
sm_90 by ``tools/dev/triton_aot_check.py``, none spills (8192-element tiles at C = 81 spilled;
so did 2048 elements on 4 warps). One stage: the class loop has no ``tl.dot`` to pipeline, and
a single-block row has no loop. ``tools/dev/tune_tiles.py`` (GPU only) times candidates per row
and writes a proposed table for a person to review and commit here; nothing tunes at run time.
"""
import functools
from typing import NamedTuple, Optional

CLASS_CONTIGUOUS, POSITION_CONTIGUOUS = "class_contiguous", "position_contiguous"
TILE_ELEMENTS = 4096


class Tile(NamedTuple):
    block_s: int
    block_c: int
    num_warps: int
    num_stages: int


class TileRow(NamedTuple):
    """One row of the table: the tile for ``layout`` at ``min_classes <= C <= max_classes`` (None: no
    upper end), for ``dtype`` ('float32', 'float16', 'bfloat16'; None: any) and ``wide`` (None: both).
    ``block_c`` None means the next power of two >= C (the row in one block)."""
    layout: str
    min_classes: int
    max_classes: Optional[int]
    block_c: Optional[int]
    block_s: Optional[int]  # None: TILE_ELEMENTS // block_c
    num_warps: int
    num_stages: int
    dtype: Optional[str] = None
    wide: Optional[bool] = None


# Specific rows (a dtype or WIDE named) go before general ones: the first row that matches is taken.
TABLE = (
    TileRow(CLASS_CONTIGUOUS, 1, 4096, None, None, 8, 1),
    TileRow(CLASS_CONTIGUOUS, 4097, None, 4096, 1, 8, 1),
    TileRow(POSITION_CONTIGUOUS, 1, 32, None, None, 8, 1),
    TileRow(POSITION_CONTIGUOUS, 33, None, 32, 128, 8, 1),
)


def next_power_of_2(n: int) -> int:
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def dtype_name(dtype) -> str:
    """'float32' for torch.float32 (the table's key; a string, so this file needs no torch)."""
    return str(dtype).rsplit(".", 1)[-1]


def _matches(row: TileRow, layout, num_classes, dtype, wide):
    return (row.layout == layout and row.min_classes <= num_classes
            and (row.max_classes is None or num_classes <= row.max_classes)
            and row.dtype in (None, dtype) and row.wide in (None, wide))


@functools.lru_cache(maxsize=None)  # twice per step (forward, backward): keep the Python per launch small
def tile_for(num_classes: int, position_contiguous: bool, dtype, wide: bool, table=TABLE) -> Tile:
    """The tile of a launch: the first row of ``table`` that matches."""
    layout = POSITION_CONTIGUOUS if position_contiguous else CLASS_CONTIGUOUS
    name = dtype if isinstance(dtype, str) else dtype_name(dtype)
    for row in table:
        if _matches(row, layout, num_classes, name, wide):
            block_c = row.block_c or next_power_of_2(num_classes)
            block_s = row.block_s or max(1, TILE_ELEMENTS // block_c)
            return Tile(block_s, block_c, row.num_warps, row.num_stages)
    raise LookupError(f"no tile for {layout} logits with {num_classes} classes in {name}"
                      f"{' (WIDE offsets)' if wide else ''}: the table in triton_tiles.py must cover every case")


def representative_class_counts(row: TileRow):
    """Class counts that reach every distinct tile of a row (what the ahead-of-time check compiles):
    each power-of-two range's top where the row holds in one block, else the row's first C and one
    that loops more than once."""
    if row.block_c is None:
        top = row.max_classes or TILE_ELEMENTS
        counts, c = [], max(1, row.min_classes)
        while c <= top:
            counts.append(next_power_of_2(c))
            c = next_power_of_2(c) + 1
        return tuple(dict.fromkeys(counts))
    return (row.min_classes, 3 * row.block_c + 5)
