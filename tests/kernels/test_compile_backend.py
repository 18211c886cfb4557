"""backend='compile' (alias compile=True): what the compiled kernels add to the shared backend
tests (test_backends.py): equality with eager, dynamic shapes without recompiling, and the eager
fallback with one warning when compilation fails in the forward or in the backward.

Cost: about a dozen small compiles (one per dtype and input rank), 1-2 minutes on 2 cores.
"""
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, softmax_focal_loss
from imbalanced_losses.kernels import compile as compile_backend
from imbalanced_losses.kernels import eager
from tests.paths import ROOT
from tests.tolerances import assert_close_reordered


def _step(backend, logits, targets, **options):
    x = logits.clone().requires_grad_()
    loss = softmax_focal_loss(x, targets, backend=backend, **options)
    loss.backward()
    return loss.detach(), x.grad


def test_compile_equals_eager_closely():
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(300, 81, generator=gen) * 4
    targets = torch.randint(0, 81, (300,), generator=gen)
    targets[::9] = -100
    options = dict(alpha=torch.rand(81, generator=gen).tolist(), gamma=2.0, label_smoothing=0.1,
                   reduction="mean_positive")
    (loss, grad), (expected_loss, expected_grad) = (_step(b, logits, targets, **options) for b in ("compile", "eager"))
    assert_close_reordered(loss, expected_loss)  # inductor's loops sum in another order than ATen's
    assert_close_reordered(grad, expected_grad)
    assert compile_backend._kernels is not None and compile_backend._unavailable is None  # compiled, no fallback


def test_changing_row_counts_gamma_and_smoothing_do_not_recompile():
    from torch._dynamo.utils import counters
    loss_fn = SoftmaxFocalLoss(gamma=2.0, reduction="mean_positive", backend="compile")
    gen = torch.Generator().manual_seed(5)

    def step(n, fn=loss_fn):
        x = torch.randn(n, 11, generator=gen, requires_grad=True)
        fn(x, torch.randint(0, 11, (n,), generator=gen)).backward()

    step(17)  # compiles (or reuses) the 2-D float32 kernels
    graphs = counters["stats"]["unique_graphs"]
    for n in (5, 300, 4096, 2, 1000):  # a detector's anchor counts change every step
        step(n)
    for options in (dict(gamma=0.5), dict(gamma=0.0, label_smoothing=0.3), dict(gamma=3.0, alpha=[0.5] * 11)):
        step(50, SoftmaxFocalLoss(backend="compile", **options))
    assert counters["stats"]["unique_graphs"] == graphs


def test_module_option_and_repr():
    loss_fn = SoftmaxFocalLoss(compile=True)
    assert loss_fn.backend == "compile" and "backend='compile'" in repr(loss_fn)
    assert callable(loss_fn.compile)  # nn.Module.compile is not shadowed
    with pytest.raises(TypeError, match="compile must be True or False, got 'yes'"):
        SoftmaxFocalLoss(compile="yes")


class InductorError(Exception):
    """Named like inductor's own, which is how the backend recognises compiler failures."""


def test_a_failing_backward_compile_falls_back_with_one_warning(monkeypatch):
    def failing_grad(*args):
        raise InductorError("backward: no compiler")

    monkeypatch.setattr(compile_backend, "_kernels", compile_backend.CompiledKernels(eager.focal_rows, failing_grad))
    monkeypatch.setattr(compile_backend, "_unavailable", None)
    gen = torch.Generator().manual_seed(9)
    logits, targets = torch.randn(40, 5, generator=gen), torch.randint(0, 5, (40,), generator=gen)
    expected = _step("eager", logits, targets, label_smoothing=0.1)
    with pytest.warns(RuntimeWarning, match=r"backend='compile'.*not available here \(InductorError: backward"):
        result = _step("compile", logits, targets, label_smoothing=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = _step("compile", logits, targets, label_smoothing=0.1)  # eager from now on, silently
    for value, grad in (result, again):  # the first forward ran on the (N, C, 1) view: rounding may differ
        assert_close_reordered(value, expected[0])
        assert_close_reordered(grad, expected[1])


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
    mine = [w for w in caught if "SoftmaxFocalLoss(backend='compile')" in str(w.message)]
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
