"""The backend contract as code: every registered backend satisfies ``interface.Backend``, the
registry is the one list of names, and a backend added there (one module, one line) is accepted
by ``LossOptions``, chosen by ``select`` and computes the loss."""
import sys
import types

import pytest
import torch

from imbalanced_losses import LossOptions, backend_registry, kernels, softmax_focal_loss
from imbalanced_losses.kernels import eager, interface, load, select
from tests.cases import NAMED_BACKENDS, TRITON_SKIP
from tests.reference import reference_focal_loss


@pytest.mark.parametrize("name", backend_registry.NAMES)
def test_every_registered_backend_satisfies_the_protocol(name):
    module, import_error = load(name)
    if import_error:
        pytest.skip(import_error)
    backend = module.BACKEND
    assert isinstance(backend, interface.Backend) and backend.name == name
    assert isinstance(backend.checks_targets, bool)
    assert callable(backend.Saved.pack) and callable(backend.Saved.unpack)


def test_the_registry_is_the_one_list_of_names():
    assert NAMED_BACKENDS == backend_registry.NAMES == ("eager", "compile", "triton")
    assert backend_registry.choices() == ("auto",) + backend_registry.NAMES
    for name in backend_registry.choices():
        assert LossOptions(backend=name).backend == name
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'eager', 'compile', 'triton'\), "
                                         r"got 'cuda'"):
        LossOptions(backend="cuda")


def test_an_explicit_backend_that_cannot_run_raises_with_its_reasons(monkeypatch):
    monkeypatch.setattr(kernels, "_loaded", dict(kernels._loaded))  # what this test loads is forgotten after it
    monkeypatch.setitem(sys.modules, "tests_refusing_backend", types.SimpleNamespace(
        BACKEND=types.SimpleNamespace(not_supported_reasons=lambda logits: ["it runs on no device"])))
    monkeypatch.setitem(backend_registry.REGISTRY, "refusing", "tests_refusing_backend")
    with pytest.raises(RuntimeError, match="backend='refusing' cannot run here: it runs on no device"):
        select("refusing", torch.randn(2, 3))
    if TRITON_SKIP:
        with pytest.raises(RuntimeError, match="backend='triton' cannot run here"):
            select("triton", torch.randn(2, 3))


class _CountingBackend(eager.EagerBackend):
    """A new backend as a user would add one: the eager formulas, counting its calls."""
    name = "counting"
    calls = 0

    def compute_forward(self, *arguments):
        type(self).calls += 1
        return super().compute_forward(*arguments)


def test_a_backend_added_by_one_module_and_one_registry_line_runs_the_loss(monkeypatch):
    monkeypatch.setattr(kernels, "_loaded", dict(kernels._loaded))
    monkeypatch.setitem(sys.modules, "tests_counting_backend", types.SimpleNamespace(BACKEND=_CountingBackend()))
    monkeypatch.setitem(backend_registry.REGISTRY, "counting", "tests_counting_backend")
    logits = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 1, 2, 3, 4, -100, 1])
    alpha = [0.5, 1.0, 2.0, 1.0, 0.25]
    loss = softmax_focal_loss(logits, targets, alpha=alpha, gamma=1.5, backend="counting")
    expected, reference_logits = reference_focal_loss(logits, targets, alpha=alpha, gamma=1.5)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    expected.backward()
    torch.testing.assert_close(logits.grad, reference_logits.grad)
    assert _CountingBackend.calls == 1
