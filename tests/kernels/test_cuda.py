"""On a CUDA device (skipped without one): every backend against CPU eager, the default path with
zero host syncs, the Triton path's kernel count, and bad targets reported without a device assert."""
import os

import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, raise_deferred_errors, softmax_focal_loss
from tests.cases import ALL_BACKENDS, GPU, needs_gpu, random_case, triton_launches
from tests.tolerances import assert_close_on_gpu

pytestmark = needs_gpu  # GPU is "cuda" (or "cpu" in the GPU check's dry run, which only records launches)


def _step(logits, targets, device, **options):
    x = logits.clone().to(device).requires_grad_()
    on_device = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in options.items()}
    loss = softmax_focal_loss(x, targets.to(device), **on_device)
    loss.backward()
    return loss.detach().cpu(), x.grad.cpu()


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("seed", [3, 8, 21])
def test_cuda_matches_cpu_eager(backend, dtype, seed):
    logits, targets, options = random_case(seed)
    logits = (logits * min(1.0, 5.0 / logits.abs().max().item())).to(dtype)
    options = dict(options, reduction="mean_positive")
    expected = _step(logits.float(), targets, "cpu", **options)
    loss, grad = _step(logits, targets, GPU, backend=backend, **options)
    assert grad.dtype == dtype
    half = dtype != torch.float32
    # float32 math on the GPU: another summation order, and the hardware's exp and log (tolerances.py)
    assert_close_on_gpu(loss, expected[0], logits.float(), options["gamma"])
    if half:
        torch.testing.assert_close(grad.float(), expected[1].to(dtype).float(), rtol=1e-2, atol=1e-3)
    else:
        assert_close_on_gpu(grad, expected[1], logits, options["gamma"])


def _detector_like(n=8192, c=81, dtype=torch.float32):
    gen = torch.Generator().manual_seed(0)
    logits = (torch.randn(n, c, generator=gen) * 3).to(GPU, dtype).requires_grad_()
    targets = torch.randint(0, c, (n,), generator=gen)
    targets[torch.rand(n, generator=gen) < 0.05] = -100
    alpha = torch.full((c,), 0.25)
    alpha[0] = 0.75
    return logits, targets.to(GPU), alpha.to(GPU)


@pytest.mark.parametrize("backend", ["auto", "triton"])
def test_default_path_makes_no_host_sync(one_rank_group, backend):
    """Also with alpha given as a list or a CPU tensor per call: copied to the device once (warm-up)."""
    logits, targets, alpha = _detector_like()
    alpha_list, alpha_cpu = alpha.tolist(), alpha.cpu()  # read here: a device-to-host copy syncs
    module = SoftmaxFocalLoss(alpha=alpha, gamma=2.0, label_smoothing=0.1, reduction="mean_positive",
                              gather_distributed=True, backend=backend).to(GPU)

    def steps():
        for loss in (module(logits, targets),
                     softmax_focal_loss(logits, targets, alpha=alpha, gamma=2.0, label_smoothing=0.1,
                                        reduction="mean_positive", gather_distributed=True, backend=backend),
                     softmax_focal_loss(logits, targets, alpha=alpha_list, backend=backend),
                     softmax_focal_loss(logits, targets, alpha=alpha_cpu, backend=backend),
                     softmax_focal_loss(logits, targets, reduction="none", backend=backend)):
            logits.grad = None
            loss.sum().backward()

    steps()  # warm-up: Triton compiles its kernels (that syncs) and the flags are allocated
    if GPU != "cuda":
        return  # the dry run records the launches only
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        steps()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    raise_deferred_errors()  # nothing was flagged


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_triton_path_launches_few_kernels(dtype):
    logits, targets, alpha = _detector_like(dtype=dtype)
    module = SoftmaxFocalLoss(alpha=alpha, gamma=2.0, label_smoothing=0.1, reduction="mean_positive",
                              backend="triton").to(GPU)
    module(logits, targets).backward()  # warm-up
    if GPU != "cuda":
        return  # the dry run records the launches only
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        logits.grad = None
        module(logits, targets).backward()
        torch.cuda.synchronize()
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
               and "memcpy" not in e.name.lower() and "memset" not in e.name.lower()]
    assert len(kernels) <= 8, [e.name for e in kernels]


def test_bad_target_on_cuda_is_reported_without_a_device_assert():
    logits, targets, alpha = _detector_like(n=64)
    targets[5] = 81
    loss = softmax_focal_loss(logits, targets, alpha=alpha)
    loss.backward()
    assert torch.isfinite(loss).item() and torch.isfinite(logits.grad).all().item()
    with pytest.raises(ValueError, match="got 81 in an earlier call on cuda"):
        raise_deferred_errors()
    with pytest.raises(ValueError, match=r"targets must be in \[0, 81\) or equal ignore_index=-100, got 81"):
        softmax_focal_loss(logits, targets, sync_checks=True)
    for backend in ("eager", "compile"):
        softmax_focal_loss(logits, targets, backend=backend)
        with pytest.raises(ValueError, match="got 81 in an earlier call"):
            raise_deferred_errors()


def test_auto_takes_triton_only_where_a_record_covers_this_gpu():
    from imbalanced_losses.kernels import triton_focal, verification
    if GPU != "cuda":
        pytest.skip("the dry run records the launches only")
    identity = verification.identity_of(torch.device("cuda"))
    covered = verification.covering_record(identity, triton_focal.triton.__version__,
                                           verification.load_records()) is not None
    logits, targets, _ = _detector_like(n=128)
    with triton_launches() as launched:
        softmax_focal_loss(logits, targets).backward()
    assert len(launched) == (2 if covered else 0), os.environ.get("TRITON_INTERPRET")
    with triton_launches() as launched:
        softmax_focal_loss(logits, targets, backend="triton").backward()  # the opt-in runs everywhere
    assert len(launched) == 2


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
@pytest.mark.parametrize("backend", ["auto", "eager", "triton"])
def test_logits_on_another_device_than_the_current_one(backend):
    """Triton launches on the current device: the backend makes the logits' device current."""
    logits, targets, alpha = _detector_like(n=256)
    expected = _step(logits.detach().float().cpu(), targets.cpu(), "cpu", alpha=alpha.cpu())
    with torch.cuda.device(0):
        got = _step(logits.detach().float().cpu(), targets.cpu(), "cuda:1", alpha=alpha.cpu(), backend=backend)
    for value, value_expected in zip(got, expected):
        assert_close_on_gpu(value, value_expected, logits, gamma=2.0)


def _free_gib():
    return torch.cuda.mem_get_info()[0] / 2**30


@pytest.mark.parametrize("shape,needs_gib", [
    ((2, 19, 8192, 7168), 40),  # a bf16 segmentation batch of 2.2e9 logits: offsets past 2**31
    ((1, 2, 2**29 + 4099), 30),  # binary: the saved buffer's planes end past 2**31
])
def test_triton_past_2_31_elements_matches_eager_in_chunks(shape, needs_gib):
    """The int64 offsets on real hardware (the interpreter cannot hold such shapes): the Triton
    backend on the whole batch against eager on pieces of it, loss sum and gradient."""
    if _free_gib() < needs_gib:
        pytest.skip(f"needs about {needs_gib} GiB of free GPU memory, {_free_gib():.0f} free")
    gen = torch.Generator(device="cuda").manual_seed(0)
    logits = torch.randn(shape, device="cuda", generator=gen, dtype=torch.bfloat16).requires_grad_()
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], device="cuda", generator=gen, dtype=torch.uint8)
    alpha = torch.rand(shape[1], device="cuda", generator=gen) + 0.5
    options = dict(alpha=alpha, gamma=2.0, label_smoothing=0.1, reduction="sum", ignore_index=255)
    total = softmax_focal_loss(logits, targets, backend="triton", **options)
    total.backward()
    grad, logits = logits.grad, logits.detach()
    chunk_dim, chunks = (2, 16) if len(shape) == 4 else (2, 64)  # pieces along a spatial axis
    expected_total = 0.0
    for piece_logits, piece_targets, piece_grad in zip(logits.chunk(chunks, chunk_dim),
                                                       targets.chunk(chunks, chunk_dim - 1),
                                                       grad.chunk(chunks, chunk_dim)):
        x = piece_logits.clone().requires_grad_()
        loss = softmax_focal_loss(x, piece_targets, backend="eager", **options)
        loss.backward()
        expected_total += loss.item()
        torch.testing.assert_close(piece_grad.float(), x.grad.float(), rtol=1e-2, atol=1e-3)
        del x, loss
    assert total.item() == pytest.approx(expected_total, rel=1e-4)
