"""Every backend against the float64 reference and against each other: the fuzz over every option
(2-D and k-D), half precision, class-block loops, memory layouts, saturation, empty inputs, and how
a backend is chosen. ``backend='triton'`` runs on a GPU where there is one, else in Triton's
interpreter on CPU tensors (conftest.py sets TRITON_INTERPRET=1 there); a launch counter makes a
silent fallback to another backend fail.
"""
import contextlib
import os

import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, softmax_focal_loss
from tests.cases import (
    BACKENDS,
    DEVICE,
    REDUCTIONS,
    TRITON_DEVICE,
    check_against_reference,
    needs_triton,
    random_case,
    triton_focal,
    triton_launches,
)
from tests.reference import reference_focal_loss
from tests.tolerances import assert_close_on_gpu, assert_close_reordered


@contextlib.contextmanager
def count_launches(backend, expected=None):
    """Asserts that the Triton kernels ran (``expected`` launches, or at least one)."""
    with triton_launches() as launched:
        yield
    if backend == "triton":
        assert len(launched) == expected if expected is not None else launched, len(launched)


# The fuzz's seeds: 40 in CI; the GPU check runs fewer (each new seed can be a new kernel to compile there).
FUZZ_SEEDS = int(os.environ.get("IMBALANCED_LOSSES_FUZZ_SEEDS", "40"))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", range(FUZZ_SEEDS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_matches_float64_reference(backend, seed, reduction):
    logits, targets, options = random_case(seed)
    if backend != "triton":  # Triton computes in float32 and refuses float64
        check_against_reference(logits.double(), targets, reduction, options, rtol=1e-7, atol=1e-10, backend=backend)
    # float32: log p_t carries ~1e-7 absolute error in any implementation, and for gamma < 1 the
    # factor (1 - p_t)^gamma amplifies it without bound as p_t -> 1; the saturated regime is
    # covered by the float64 check above and the finiteness tests, so keep |logits| <= 5 here.
    moderate = logits * min(1.0, 5.0 / logits.abs().max().item())
    with count_launches(backend):
        check_against_reference(moderate, targets, reduction, options, rtol=1e-3, atol=1e-5, backend=backend,
                                device=DEVICE[backend])


def _run(backend, logits, targets, device="cpu", **options):
    x = logits.clone().to(device).requires_grad_()
    on_device = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in options.items()}
    loss = softmax_focal_loss(x, targets.to(device), backend=backend, **on_device)
    upstream = torch.rand(loss.shape, generator=torch.Generator().manual_seed(7)).to(device)
    (loss * upstream).sum().backward()
    return loss.detach().cpu(), x.grad.cpu()


FULL_OPTIONS = dict(gamma=2.0, label_smoothing=0.1, ignore_index=255, background_class=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [(37, 9), (2, 6, 5, 7)])
@pytest.mark.parametrize("reduction", ["none", "mean_positive"])
def test_half_precision_computes_in_float32(backend, dtype, shape, reduction):
    gen = torch.Generator().manual_seed(4)
    logits = (torch.randn(shape, generator=gen) * 3).to(dtype)
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=gen)
    targets[torch.rand(targets.shape, generator=gen) < 0.1] = 255
    alpha = torch.rand(shape[1], generator=gen) + 0.1
    with count_launches(backend):
        loss, grad = _run(backend, logits, targets, DEVICE[backend], alpha=alpha, reduction=reduction, **FULL_OPTIONS)
    assert loss.dtype == torch.float32 and grad.dtype == dtype
    expected_loss, expected_grad = _run("eager", logits.float(), targets, alpha=alpha, reduction=reduction,
                                        **FULL_OPTIONS)  # float32 math on the same (rounded) logits
    if DEVICE[backend] == "cuda":  # the GPU's exp and log (tolerances.py)
        assert_close_on_gpu(loss, expected_loss, logits, FULL_OPTIONS["gamma"])
    else:
        assert_close_reordered(loss, expected_loss)
    torch.testing.assert_close(grad.float(), expected_grad.to(dtype).float(), rtol=1e-2, atol=1e-4)


def _reference_check(backend, logits, targets, reduction="mean_positive", **options):
    with count_launches(backend):
        check_against_reference(logits, targets, reduction, dict(FULL_OPTIONS, **options), rtol=1e-4, atol=1e-6,
                                backend=backend, device=DEVICE[backend])


@needs_triton
@pytest.mark.parametrize("shape", [(3, 5000), (2, 70, 9), (1, 4100, 3)])
def test_triton_loops_over_class_blocks(shape):
    """Rows longer than one class block: 2-D past 4096 classes, k-D past 32 (position-contiguous tiles)."""
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(shape, generator=gen) * 2
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=gen)
    targets.view(-1)[0] = shape[1] - 1  # the last class, in the last block
    _reference_check("triton", logits, targets, alpha=(torch.rand(shape[1], generator=gen) + 0.5).tolist())


@needs_triton
@pytest.mark.parametrize("layout", ["transposed", "channels_last", "sliced", "strided_rows"])
def test_triton_reads_any_layout_without_a_wrong_answer(layout):
    gen = torch.Generator().manual_seed(6)
    if layout == "transposed":  # (N, C) with the rows strided: a view, read in place
        logits = torch.randn(9, 40, generator=gen).t()
    elif layout == "channels_last":  # (N, C, H, W) with C contiguous: class-contiguous tiles
        logits = torch.randn(2, 7, 5, 6, generator=gen).contiguous(memory_format=torch.channels_last)
    elif layout == "sliced":  # spatial dims that do not merge into one: a contiguous copy
        logits = torch.randn(2, 7, 5, 9, generator=gen)[..., ::2]
    else:
        logits = torch.randn(30, 13, generator=gen)[::3]
    targets = torch.randint(0, logits.shape[1], logits.shape[:1] + logits.shape[2:], generator=gen)
    _reference_check("triton", logits, targets)


@needs_triton
@pytest.mark.parametrize("shape", [(13, 7), (2, 40, 3, 5)])
def test_triton_int64_offsets_give_the_same_result(monkeypatch, shape):
    """Logits spanning 2**31 elements take int64 offsets; forced here on small inputs. The table gives
    WIDE launches the narrow tile (triton_tiles.py), so the partial sums and the bits are the same."""
    gen = torch.Generator().manual_seed(10)
    logits = torch.randn(shape, generator=gen)
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=gen)
    narrow = _run("triton", logits, targets, TRITON_DEVICE, **FULL_OPTIONS)
    monkeypatch.setattr(triton_focal, "WIDE_OFFSETS_FROM", 0)
    wide = _run("triton", logits, targets, TRITON_DEVICE, **FULL_OPTIONS)
    torch.testing.assert_close(wide, narrow, rtol=0, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_finite_at_saturated_logits(backend, gamma, smoothing):
    logits = torch.zeros(7, 4)
    logits[:, 1] = 1e4  # p_t == 1 exactly where the target is 1, p_t == 0 elsewhere
    logits[3:, 2] = -1e4
    targets = torch.tensor([1, 1, 0, 1, 2, 3, -100])  # the ignored row must get 0, not 0 * inf
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        big = 6e4 if dtype == torch.float16 else 1e30 if dtype == torch.bfloat16 else 1e4
        x = (logits / 1e4 * big).to(dtype)
        loss, grad = _run(backend, x, targets, DEVICE[backend], gamma=gamma, label_smoothing=smoothing,
                          reduction="sum")
        assert torch.isfinite(loss) and torch.isfinite(grad.float()).all(), (dtype, loss)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spatial", [(), (4, 4)])
def test_empty_and_all_ignored_inputs(backend, spatial):
    device = DEVICE[backend]
    for n, fill in ((0, 0), (3, -100)):
        logits = torch.randn((n, 5) + spatial, device=device, requires_grad=True)
        targets = torch.full((n,) + spatial, fill, dtype=torch.long, device=device)
        for reduction in ("sum", "mean", "mean_positive", "none"):
            loss = softmax_focal_loss(logits, targets, reduction=reduction, backend=backend)
            loss.sum().backward()
            assert loss.shape == (() if reduction != "none" else targets.shape)
            assert (loss == 0).all() and torch.equal(logits.grad, torch.zeros_like(logits))
            logits.grad = None


@needs_triton
@pytest.mark.parametrize("reduction", ["mean_positive", "sum", "none"])
def test_triton_launches_two_kernels_per_step(reduction):
    """Forward and backward: nothing else of ours (torch sums a reduced loss's partial sums)."""
    launches = 2
    logits = torch.randn(50, 11, device=TRITON_DEVICE, requires_grad=True)
    targets = torch.randint(0, 11, (50,), device=TRITON_DEVICE)
    loss_fn = SoftmaxFocalLoss(alpha=[0.5] * 11, label_smoothing=0.1, reduction=reduction, backend="triton")
    with count_launches("triton", expected=launches):
        loss_fn(logits, targets).sum().backward()
    with count_launches("triton", expected=launches - 1), torch.no_grad():
        loss_fn(logits, targets)  # no gradient: no backward launch


def test_unknown_backend_names_itself():
    with pytest.raises(ValueError, match=r"backend must be one of .*got 'cuda'"):
        softmax_focal_loss(torch.randn(3, 2), torch.tensor([0, 1, 0]), backend="cuda")
    with pytest.raises(ValueError, match=r"backend must be one of"):
        SoftmaxFocalLoss(backend="Triton")
    with pytest.raises(ValueError, match=r"compile=True means backend='compile', but backend='triton'"):
        SoftmaxFocalLoss(backend="triton", compile=True)
    assert SoftmaxFocalLoss(compile=True).backend == "compile"
    assert "backend='eager'" in repr(SoftmaxFocalLoss(backend="eager"))


@needs_triton
def test_explicit_triton_raises_where_it_cannot_run(monkeypatch):
    with pytest.raises(RuntimeError, match=r"backend='triton' cannot run here: .*float64"):
        softmax_focal_loss(torch.randn(3, 2, dtype=torch.float64, device=TRITON_DEVICE),
                           torch.tensor([0, 1, 0], device=TRITON_DEVICE), backend="triton")
    monkeypatch.setattr(triton_focal, "INTERPRETED", False)
    with pytest.raises(RuntimeError, match=r"backend='triton' cannot run here: logits are on cpu"):
        softmax_focal_loss(torch.randn(3, 2), torch.tensor([0, 1, 0]), backend="triton")
    monkeypatch.setattr(triton_focal.triton, "__version__", "2.1.0")
    with pytest.raises(RuntimeError, match=r"Triton 2.1.0 is installed; these kernels need Triton >= 3.6"):
        softmax_focal_loss(torch.randn(3, 2), torch.tensor([0, 1, 0]), backend="triton")


@pytest.mark.parametrize("backend", BACKENDS)
def test_weight_scales_positions_without_changing_counts(backend):
    gen = torch.Generator().manual_seed(8)
    logits = torch.randn(20, 6, generator=gen)
    targets = torch.randint(0, 6, (20,), generator=gen)
    weight = torch.rand(20, generator=gen)
    weight[:5] = 0
    device = DEVICE[backend]
    with count_launches(backend):
        ours = SoftmaxFocalLoss(reduction="mean", backend=backend)(logits.to(device), targets.to(device),
                                                                    weight.to(device))
    expected, _ = reference_focal_loss(logits, targets, reduction="mean", weight=weight)
    torch.testing.assert_close(ours.double().cpu(), expected, rtol=1e-5, atol=1e-7)
