"""The Triton kernels' tiles come from a fixed table (triton_tiles.py), never from runtime tuning:
the table covers every launch, the same inputs give the same bits in another process (narrow and
WIDE offsets alike), no autotuner exists in the package, and positions past 2**31 - BLOCK_S do not
wrap in a WIDE launch (a probe kernel under the interpreter, whose numpy int32 wraps as a GPU's does)."""
import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch

from imbalanced_losses.kernels import triton_tiles
from tests.cases import needs_triton, triton_focal
from tests.paths import ROOT

PACKAGE = pathlib.Path(ROOT) / "imbalanced_losses"


@pytest.mark.parametrize("position_contiguous", [False, True])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("wide", [False, True])
def test_the_table_covers_every_class_count_with_bounded_tiles(position_contiguous, dtype, wide):
    for num_classes in list(range(1, 70)) + [81, 150, 1204, 4095, 4096, 4097, 5000, 32000]:
        tile = triton_tiles.tile_for(num_classes, position_contiguous, dtype, wide)
        assert tile.block_s * tile.block_c <= triton_tiles.TILE_ELEMENTS, (num_classes, tile)
        assert tile.block_c & (tile.block_c - 1) == 0 and tile.block_s & (tile.block_s - 1) == 0  # powers of 2
        one_block = tile.block_c >= num_classes
        assert one_block or tile.block_c == (32 if position_contiguous else 4096), (num_classes, tile)
        if one_block:  # the row in one block: the smallest power of two that holds it
            assert tile.block_c == triton_tiles.next_power_of_2(num_classes)
        assert tile.num_warps == 8 and tile.num_stages == 1


def test_a_specific_row_wins_over_a_general_one_and_a_gap_is_named():
    bf16_rows = triton_tiles.TileRow(triton_tiles.CLASS_CONTIGUOUS, 65, 128, None, 16, 4, 2, dtype="bfloat16")
    table = (bf16_rows,) + triton_tiles.TABLE
    assert triton_tiles.tile_for(81, False, torch.bfloat16, False, table) == (16, 128, 4, 2)
    assert triton_tiles.tile_for(81, False, torch.float32, False, table) == (32, 128, 8, 1)
    with pytest.raises(LookupError, match="no tile for position_contiguous logits with 19 classes in float32"):
        triton_tiles.tile_for(19, True, torch.float32, False, triton_tiles.TABLE[:2])


def test_no_autotuner_anywhere_in_the_package():
    """Runtime autotuning picks tiles per process from timings: not in our kernels."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert "autotune" not in text.lower().replace("autotuning", ""), path


@needs_triton
def test_a_launch_constructs_no_autotuner(monkeypatch):
    import triton

    def refuse(*args, **kwargs):
        raise AssertionError("an autotuner was constructed")
    monkeypatch.setattr(triton, "autotune", refuse)
    monkeypatch.setattr(triton.runtime.autotuner.Autotuner, "__init__", refuse)
    from imbalanced_losses import softmax_focal_loss
    logits = torch.randn(40, 81, device="cuda" if torch.cuda.is_available() else "cpu", requires_grad=True)
    softmax_focal_loss(logits, torch.randint(0, 81, (40,), device=logits.device), backend="triton").backward()


DIGEST = """
import hashlib, json, sys
import torch
from imbalanced_losses import softmax_focal_loss
from imbalanced_losses.kernels import triton_focal
if sys.argv[1] == "wide":
    triton_focal.WIDE_OFFSETS_FROM = 0
device = "cuda" if torch.cuda.is_available() else "cpu"
digests = {}
for shape in [(300, 81), (2, 19, 9, 7), (3, 5000)]:
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(shape, generator=gen) * 3).to(device).requires_grad_()
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=gen).to(device)
    alpha = (torch.rand(shape[1], generator=gen) + 0.1).to(device)
    loss = softmax_focal_loss(logits, targets, alpha=alpha, gamma=2.0, label_smoothing=0.1,
                              reduction="mean_positive", backend="triton")
    loss.backward()
    data = loss.detach().cpu().numpy().tobytes() + logits.grad.cpu().numpy().tobytes()
    digests["x".join(map(str, shape))] = hashlib.sha256(data).hexdigest()
print(json.dumps(digests))
"""


@needs_triton
def test_the_same_inputs_give_the_same_bits_in_another_process_narrow_and_wide():
    def digests(offsets):
        result = subprocess.run([sys.executable, "-c", DIGEST, offsets], capture_output=True, text=True, cwd=ROOT,
                                env=dict(os.environ, PYTHONPATH=ROOT, PYTHONWARNINGS="ignore"), check=True)
        return json.loads(result.stdout.strip().splitlines()[-1])
    narrow = digests("narrow")
    assert digests("narrow") == narrow  # another process
    assert digests("wide") == narrow  # WIDE runs the narrow tile: the same partial sums, the same bits
    assert len(set(narrow.values())) == 3


@needs_triton
@pytest.mark.skipif(torch.cuda.is_available(), reason="a probe of the interpreter's int32 arithmetic")
@pytest.mark.parametrize("num_s", [2**31 - 100, 2**31 - 1])
@pytest.mark.parametrize("wide", [False, True])
def test_positions_near_2_31_do_not_wrap(num_s, wide):
    """S just below 2**31 positions: the last program's block count and positions must not wrap
    (``tl.cdiv(S, BLOCK_S)`` computes S + BLOCK_S - 1 first, past 2**31 - 1 in int32; it did)."""
    import triton
    import triton.language as tl

    @triton.jit
    def probe(out_ptr, targets_ptr, pid, S, WIDE: tl.constexpr, BLOCK_S: tl.constexpr):
        b, s, s_mask, rows, position, t = triton_focal._program_positions(
            pid, S, 0, 1, 0, 0, targets_ptr, -100, True, WIDE, BLOCK_S)
        tl.store(out_ptr + tl.arange(0, BLOCK_S), position)
        tl.store(out_ptr + BLOCK_S + tl.arange(0, BLOCK_S), s_mask.to(tl.int64))
        tl.store(out_ptr + 2 * BLOCK_S, b)

    block_s = 128
    assert triton_focal.needs_wide_offsets(torch.empty((1, 2, num_s), device="meta"),
                                           triton_tiles.tile_for(2, True, torch.float32, False))
    last = (num_s - 1) // block_s
    out = torch.zeros(2 * block_s + 1, dtype=torch.int64)
    probe[(1,)](out, torch.zeros(1, dtype=torch.int64), last, num_s, WIDE=wide, BLOCK_S=block_s)
    assert torch.equal(out[:block_s], torch.arange(last * block_s, last * block_s + block_s))
    assert out[block_s:2 * block_s].sum().item() == num_s - last * block_s  # only the positions < S
    assert out[2 * block_s].item() == 0  # the program's b
