"""compile=True: the same fuzz as the eager path against the float64 reference, finiteness,
half precision, dynamic shapes without recompiling, and the eager fallback with one warning.

Cost: the module compiles each kernel once per dtype and input rank (2-D, k-D): about 12
small compiles, 1-2 minutes on 2 cores.
"""
import os
import subprocess
import sys
import textwrap

import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, softmax_focal_loss
from imbalanced_losses import fused as fused_module
from test_focal_loss import REDUCTIONS, check_against_reference, random_case

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_fused_matches_float64_reference(seed, reduction):
    """The eager fuzz of test_focal_loss, at the same tolerances."""
    logits, targets, options = random_case(seed)
    check_against_reference(logits.double(), targets, reduction, options, rtol=1e-7, atol=1e-10, compile=True)
    moderate = logits * min(1.0, 5.0 / logits.abs().max().item())
    check_against_reference(moderate, targets, reduction, options, rtol=1e-3, atol=1e-5, compile=True)


def test_fused_equals_eager_closely():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(300, 81, generator=gen) * 4
    targets = torch.randint(0, 81, (300,), generator=gen)
    targets[::9] = -100
    options = dict(alpha=torch.rand(81, generator=gen).tolist(), gamma=2.0, label_smoothing=0.1,
                   reduction="mean_positive")
    results = []
    for compile in (False, True):
        x = logits.clone().requires_grad_()
        loss = softmax_focal_loss(x, targets, compile=compile, **options)
        loss.backward()
        results.append((loss.detach(), x.grad))
    torch.testing.assert_close(results[1][0], results[0][0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(results[1][1], results[0][1], rtol=1e-5, atol=1e-9)
    assert fused_module._kernels is not None and fused_module._unavailable is None  # compiled, no fallback


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_fused_is_finite_at_saturated_logits(gamma, smoothing):
    logits = torch.zeros(6, 4)
    logits[:, 1] = 1e4  # p_t == 1 exactly where the target is 1, p_t == 0 elsewhere
    logits[3:, 2] = -1e4
    targets = torch.tensor([1, 1, 0, 1, 2, 3])
    x = logits.requires_grad_()
    loss = softmax_focal_loss(x, targets, gamma=gamma, label_smoothing=smoothing, compile=True)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fused_half_precision_computes_in_float32(dtype):
    gen = torch.Generator().manual_seed(4)
    logits = (torch.randn(64, 9, generator=gen) * 3).to(dtype)
    targets = torch.randint(0, 9, (64,), generator=gen)
    outputs = []
    for compile in (False, True):
        x = logits.clone().requires_grad_()
        loss = SoftmaxFocalLoss(gamma=2.0, label_smoothing=0.1, compile=compile)(x, targets)
        loss.backward()
        assert loss.dtype == torch.float32 and x.grad.dtype == dtype
        outputs.append((loss.detach(), x.grad.float()))
    torch.testing.assert_close(outputs[1][0], outputs[0][0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(outputs[1][1], outputs[0][1], rtol=0, atol=0)  # same float32 math, same rounding


def test_changing_row_counts_gamma_and_smoothing_do_not_recompile():
    from torch._dynamo.utils import counters
    loss_fn = SoftmaxFocalLoss(gamma=2.0, reduction="mean_positive", compile=True)
    gen = torch.Generator().manual_seed(5)

    def step(n, fn=loss_fn):
        x = torch.randn(n, 11, generator=gen, requires_grad=True)
        fn(x, torch.randint(0, 11, (n,), generator=gen)).backward()

    step(17)  # compiles (or reuses) the 2-D float32 kernels
    graphs = counters["stats"]["unique_graphs"]
    for n in (5, 300, 4096, 2, 1000):  # a detector's anchor counts change every step
        step(n)
    for options in (dict(gamma=0.5), dict(gamma=0.0, label_smoothing=0.3), dict(gamma=3.0, alpha=[0.5] * 11)):
        step(50, SoftmaxFocalLoss(compile=True, **options))
    assert counters["stats"]["unique_graphs"] == graphs


def test_module_option_and_repr():
    loss_fn = SoftmaxFocalLoss(compile=True)
    assert loss_fn.compile_kernels and "compile=True" in repr(loss_fn)
    assert callable(loss_fn.compile)  # nn.Module.compile is not shadowed
    with pytest.raises(TypeError, match="compile must be True or False, got 'yes'"):
        SoftmaxFocalLoss(compile="yes")


FALLBACK = textwrap.dedent('''
    import warnings
    import torch
    from imbalanced_losses import softmax_focal_loss
    logits, targets = torch.randn(40, 5), torch.randint(0, 5, (40,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = []
        for compile in (True, True, False):
            x = logits.clone().requires_grad_()
            loss = softmax_focal_loss(x, targets, gamma=2.0, label_smoothing=0.1, compile=compile)
            loss.backward()
            values.append((loss.detach(), x.grad))
    mine = [w for w in caught if "SoftmaxFocalLoss(compile=True)" in str(w.message)]
    assert len(mine) == 1, [str(w.message) for w in caught]
    print(mine[0].message)
    for value, grad in values[:2]:
        torch.testing.assert_close(value, values[2][0], rtol=0, atol=0)
        torch.testing.assert_close(grad, values[2][1], rtol=0, atol=0)
    print("fallback ok")
''')


def test_without_a_compiler_one_warning_and_the_eager_result(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT, CXX=str(tmp_path / "no-such-compiler"),
               TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))  # a cache could hide the missing compiler
    result = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "torch.compile is not available here" in result.stdout and "fallback ok" in result.stdout


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_on_cuda_matches_eager_on_cpu(dtype):
    """Triton kernels from the same functions (runs unchanged on a CUDA machine)."""
    logits, targets, options = random_case(3)
    logits = logits.to(dtype)
    cpu = logits.clone().requires_grad_()
    cuda = logits.cuda().requires_grad_()
    a = softmax_focal_loss(cpu, targets, reduction="mean_positive", **options)
    b = softmax_focal_loss(cuda, targets.cuda(), reduction="mean_positive", compile=True, **options)
    a.backward()
    b.backward()
    torch.testing.assert_close(b.cpu(), a, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(cuda.grad.cpu().float(), cpu.grad.float(), rtol=1e-2 if dtype != torch.float32 else
                               1e-5, atol=1e-3 if dtype != torch.float32 else 1e-6)
