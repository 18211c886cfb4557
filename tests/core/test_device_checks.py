"""Bad targets and alpha values without a host sync: computed as ignored, raised at the next call
(or by raise_deferred_errors), for every backend. On CUDA that is the default; here the deferral
is switched on for CPU tensors so that the same code path runs (Triton in its interpreter)."""
import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, raise_deferred_errors, softmax_focal_loss
from tests.cases import BACKENDS, DEVICE, defer_checks_on_every_device


@pytest.fixture
def deferred(monkeypatch):
    defer_checks_on_every_device(monkeypatch)
    yield
    try:
        raise_deferred_errors()  # leave no flag behind for other tests
    except ValueError:
        pass


def _inputs(device):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=gen).to(device)
    targets = torch.tensor([0, 1, 2, 3, 4, 1, 2, 0]).to(device)
    return logits, targets


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_target_is_ignored_then_reported_at_the_next_call(deferred, backend):
    logits, targets = _inputs(DEVICE[backend])
    bad = targets.clone()
    bad[3] = 17
    ignored = targets.clone()
    ignored[3] = -100
    loss_fn = SoftmaxFocalLoss(reduction="mean_positive", backend=backend)
    x_ref = logits.clone().requires_grad_()
    expected = loss_fn(x_ref, ignored)
    expected.backward()
    x = logits.clone().requires_grad_()
    value = loss_fn(x, bad)  # no error here: that would need a sync
    value.backward()
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(x.grad, x_ref.grad)
    assert torch.all(x.grad[3] == 0)
    with pytest.raises(ValueError, match=r"targets must be in \[0, C\) or equal ignore_index, got 17 in an "
                                         r"earlier call .*C = 5 and ignore_index = -100"):
        loss_fn(logits, targets)
    loss_fn(logits, targets)  # reported once: the flags were cleared


@pytest.mark.parametrize("backend", BACKENDS)
def test_raise_deferred_errors_reports_at_once(deferred, backend):
    logits, targets = _inputs(DEVICE[backend])
    targets[0] = -3
    softmax_focal_loss(logits, targets, backend=backend)
    with pytest.raises(ValueError, match="got -3 in an earlier call"):
        raise_deferred_errors()
    raise_deferred_errors()  # nothing pending any more


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_checks_raise_in_the_offending_call(deferred, backend):
    logits, targets = _inputs(DEVICE[backend])
    targets[2] = 5
    with pytest.raises(ValueError, match=r"targets must be in \[0, 5\) or equal ignore_index=-100, got 5"):
        softmax_focal_loss(logits, targets, backend=backend, sync_checks=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_alpha_tensor_is_used_as_zero_then_reported(deferred, backend):
    logits, targets = _inputs(DEVICE[backend])
    alpha = torch.tensor([1.0, float("nan"), 1.0, 1.0, 1.0], device=logits.device)
    expected = softmax_focal_loss(logits, targets, alpha=alpha.nan_to_num(0.0), reduction="sum", backend=backend)
    value = softmax_focal_loss(logits, targets, alpha=alpha, reduction="sum", backend=backend)
    torch.testing.assert_close(value, expected)
    with pytest.raises(ValueError, match=r"alpha must be finite and non-negative, got a bad value at alpha\[1\]"):
        raise_deferred_errors()


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_alpha_list_raises_in_the_call_even_where_checks_are_deferred(deferred, backend):
    """A list's values are host numbers: checking them costs no sync, so it is never deferred."""
    logits, targets = _inputs(DEVICE[backend])
    with pytest.raises(ValueError, match=r"alpha must be non-negative, got \[1.0, -0.5, 1.0, 1.0, 1.0\]"):
        softmax_focal_loss(logits, targets, alpha=[1, -0.5, 1, 1, 1], backend=backend)
    raise_deferred_errors()  # and nothing was left on the device


def test_without_deferral_cpu_checks_immediately():
    logits, targets = _inputs("cpu")
    targets[1] = 9
    with pytest.raises(ValueError, match="got 9"):
        softmax_focal_loss(logits, targets)
    with pytest.raises(ValueError, match="alpha must be finite"):
        softmax_focal_loss(logits, targets.clamp(max=4), alpha=torch.tensor([1.0, float("inf"), 1, 1, 1]))
