"""Shared test helpers: the backends and reductions every area parametrizes over, random cases of
every option and the check against the float64 reference."""
import contextlib
import os
import random
from unittest import mock

import pytest
import torch

from imbalanced_losses import softmax_focal_loss
from imbalanced_losses.backend_registry import CHOICES as ALL_BACKENDS  # noqa: F401 - 'auto' and every backend
from imbalanced_losses.backend_registry import NAMES as NAMED_BACKENDS  # every registered backend
from imbalanced_losses.options import REDUCTIONS
from tests.reference import reference_focal_loss

SCALAR_REDUCTIONS = tuple(r for r in REDUCTIONS if r != "none")
# Triton runs on a GPU where there is one, else in its interpreter on CPU tensors (conftest.py).
TRITON_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
try:
    from imbalanced_losses.kernels import triton_focal
    TRITON_SKIP = "; ".join(triton_focal.not_supported_reasons(torch.empty(1, 2, device=TRITON_DEVICE))) or None
except Exception:  # noqa: BLE001 - Triton is a test requirement; without it (or broken) its tests skip
    triton_focal, TRITON_SKIP = None, "triton is not installed"
needs_triton = pytest.mark.skipif(TRITON_SKIP is not None, reason=str(TRITON_SKIP))
# The CUDA tests' device: CUDA; in the GPU check's dry run, whose Triton launches are recorded and
# skipped (tests/gpu_check_recorder.py), the CPU; elsewhere they skip.
GPU_CHECK_RECORDING = bool(os.environ.get("GPU_CHECK_RECORD"))
GPU = "cuda" if torch.cuda.is_available() else "cpu" if GPU_CHECK_RECORDING else None
needs_gpu = pytest.mark.skipif(GPU is None, reason="no CUDA device")
# Every named backend, Triton skipped (with its reason) where it cannot run; the device each runs on.
BACKENDS = [pytest.param(b, marks=needs_triton) if b == "triton" else b for b in NAMED_BACKENDS]
DEVICE = {b: TRITON_DEVICE if b == "triton" else "cpu" for b in NAMED_BACKENDS}


def defer_checks_on_every_device(monkeypatch):
    """The no-sync check path that CUDA takes by default, on this machine's device too (CPU, and
    the Triton interpreter): ``sync_checks=True`` still checks immediately."""
    from imbalanced_losses.checks.host import CheckPolicy
    monkeypatch.setattr(CheckPolicy, "for_call", classmethod(
        lambda cls, device, sync_checks: cls.IMMEDIATE if sync_checks else cls.DEFERRED))


@contextlib.contextmanager
def triton_launches():
    """The Triton kernel launches made inside the block: a list that gets one entry (the number of
    programs) per launch, so that a silent fallback to another backend shows."""
    launched = []
    if triton_focal is None:  # no Triton here: nothing can launch
        yield launched
        return
    original = triton_focal._Launch.run

    def counting_run(self, *args, **kwargs):
        programs = original(self, *args, **kwargs)
        if programs:
            launched.append(programs)
        return programs
    with mock.patch.object(triton_focal._Launch, "run", counting_run):
        yield launched


def random_case(seed):
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    num_classes = rng.choice([1, 2, 3, 7, 20])
    spatial = rng.choice([(), (5,), (3, 4), (2, 3, 2)])
    n = rng.choice([1, 4, 13])
    logits = torch.randn((n, num_classes) + spatial, generator=gen) * rng.choice([0.5, 3.0, 10.0])
    ignore_index = rng.choice([-100, 255, 0])
    targets = torch.randint(0, num_classes, (n,) + spatial, generator=gen)
    targets[torch.rand(targets.shape, generator=gen) < 0.2] = ignore_index
    options = dict(
        gamma=rng.choice([0.0, 0.3, 0.5, 1.0, 2.0, 3.7]),
        alpha=rng.choice([None, (torch.rand(num_classes, generator=gen) + 0.1).tolist()]),
        label_smoothing=rng.choice([0.0, 0.1, 0.35]),
        ignore_index=ignore_index,
        background_class=rng.randrange(num_classes),
    )
    if rng.random() < 0.3:  # per-position factors (drawn last: the cases above stay as they were)
        options["weight"] = torch.rand(targets.shape, generator=gen) * 2
    return logits, targets, options



def check_against_reference(logits, targets, reduction, options, rtol, atol, backend="eager", device="cpu"):
    """atol is relative to the largest reference magnitude: float32 log_softmax itself has an
    absolute error of about 1e-7 in log p_t, which F.cross_entropy shares."""
    gen = torch.Generator().manual_seed(1)
    x = logits.clone().to(device).requires_grad_()
    on_device = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in options.items()}
    value = softmax_focal_loss(x, targets.to(device), reduction=reduction, backend=backend, **on_device)
    ref, ref_x = reference_focal_loss(logits, targets, reduction=reduction, **options)
    upstream = torch.rand(ref.shape, generator=gen, dtype=torch.float64)  # exercises per-position grads
    (value * upstream.to(value.dtype).to(device)).sum().backward()
    (ref * upstream).sum().backward()
    assert value.shape == ref.shape
    scale = 1 + ref.detach().abs().max().item() if ref.numel() else 1
    torch.testing.assert_close(value.double().cpu(), ref.detach(), rtol=rtol, atol=atol * scale)
    grad_scale = 1 + ref_x.grad.abs().max().item() if ref_x.numel() else 1
    torch.testing.assert_close(x.grad.double().cpu(), ref_x.grad, rtol=rtol, atol=atol * grad_scale)
