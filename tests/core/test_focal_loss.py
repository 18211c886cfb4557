import math

import pytest
import torch
import torch.nn.functional as F

from imbalanced_losses import SoftmaxFocalLoss, softmax_focal_loss
from tests.cases import check_against_reference
from tests.reference import reference_focal_loss
from tests.tolerances import assert_close_reordered


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_gamma_zero_is_cross_entropy(reduction, smoothing):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 5, 3, 4, generator=gen, requires_grad=True)
    targets = torch.randint(0, 5, (6, 3, 4), generator=gen)
    targets[0] = 3
    targets[1, 1] = -100
    ours = softmax_focal_loss(logits, targets, gamma=0.0, reduction=reduction, label_smoothing=smoothing)
    (ours_grad,) = torch.autograd.grad(ours.sum(), logits)
    expected = F.cross_entropy(logits, targets, reduction=reduction, label_smoothing=smoothing)
    (expected_grad,) = torch.autograd.grad(expected.sum(), logits)
    assert_close_reordered(ours, expected)
    assert_close_reordered(ours_grad, expected_grad)


def test_all_ignored_gives_zero_not_nan():
    logits = torch.randn(4, 3, requires_grad=True)
    targets = torch.full((4,), -100)
    for reduction in ["mean", "mean_positive", "sum"]:
        loss = softmax_focal_loss(logits, targets, reduction=reduction)
        loss.backward()
        assert loss.item() == 0.0
        assert torch.equal(logits.grad, torch.zeros_like(logits))
    assert math.isnan(F.cross_entropy(logits, targets).item())  # what we improve on


def test_ignored_positions_have_exactly_zero_loss_and_gradient():
    logits = torch.randn(8, 4, requires_grad=True)
    targets = torch.tensor([0, 1, 255, 3, 255, 2, 1, 255])
    loss = softmax_focal_loss(logits, targets, ignore_index=255, reduction="none", label_smoothing=0.1,
                              alpha=[1.0, 2.0, 3.0, 4.0])
    loss.sum().backward()
    ignored = targets == 255
    assert torch.all(loss[ignored] == 0)
    assert torch.all(logits.grad[ignored] == 0)
    assert torch.all(logits.grad[~ignored].abs().sum(1) > 0)


def test_p_t_is_unsmoothed():
    """exp(-ce) is not p_t once label smoothing is on; the naive focal loss differs from ours."""
    logits = torch.tensor([[4.0, 0.0, -1.0]], dtype=torch.float64)
    targets = torch.tensor([0])
    ours = softmax_focal_loss(logits, targets, label_smoothing=0.3, gamma=2.0)
    ce = F.cross_entropy(logits, targets, label_smoothing=0.3)
    p_t = torch.softmax(logits, 1)[0, 0]
    assert ours.item() == pytest.approx(((1 - p_t) ** 2 * ce).item(), rel=1e-12)
    assert ours.item() != pytest.approx(((1 - torch.exp(-ce)) ** 2 * ce).item(), rel=1e-2)


def test_mean_denominator_is_a_plain_count_and_mean_positive_skips_background():
    logits = torch.randn(10, 3)
    targets = torch.tensor([0, 0, 0, 0, 1, 1, 2, -100, -100, 0])
    alpha = [0.1, 5.0, 2.0]
    total = softmax_focal_loss(logits, targets, alpha=alpha, reduction="sum")
    mean = softmax_focal_loss(logits, targets, alpha=alpha, reduction="mean")
    positive = softmax_focal_loss(logits, targets, alpha=alpha, reduction="mean_positive")
    positive_bg2 = softmax_focal_loss(logits, targets, alpha=alpha, reduction="mean_positive", background_class=2)
    torch.testing.assert_close(mean, total / 8)
    torch.testing.assert_close(positive, total / 3)
    torch.testing.assert_close(positive_bg2, total / 7)


@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.5, 0.99, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_saturated_logits_are_finite(gamma, smoothing):
    logits = torch.zeros(4, 5)
    logits[torch.arange(4), torch.tensor([0, 1, 2, 3])] = 1e4  # margin 1e4: 1 - p_t rounds to 0
    targets = torch.tensor([0, 1, 4, 4])  # two confident-correct rows, two confident-wrong rows
    for scale in [1.0, -1.0]:
        x = (logits * scale).requires_grad_()
        loss = softmax_focal_loss(x, targets, gamma=gamma, label_smoothing=smoothing, reduction="sum")
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(x.grad).all()


def test_saturated_gradient_matches_reference_where_representable():
    # p_t just below 1 (q ~ 1e-6): the target column comes from the simplified closed form.
    # float64 only: in float32, log_softmax itself rounds log p_t to about 1e-7 absolute.
    logits = torch.tensor([[14.0, 0.0, 0.0], [0.0, 12.0, -3.0]], dtype=torch.float64)
    targets = torch.tensor([0, 1])
    for gamma in [0.3, 0.7, 2.0]:
        options = dict(gamma=gamma, label_smoothing=0.1, ignore_index=-100, background_class=0, alpha=None)
        check_against_reference(logits, targets, "sum", options, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("dtype,magnitude", [(torch.float16, 6e4), (torch.bfloat16, 1e30)])
def test_low_precision_inputs(dtype, magnitude):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 6, generator=gen).to(dtype)
    targets = torch.randint(0, 6, (16,), generator=gen)
    x = logits.clone().requires_grad_()
    loss = softmax_focal_loss(x, targets, label_smoothing=0.1, alpha=[0.5] * 6)
    loss.backward()
    assert loss.dtype == torch.float32 and x.grad.dtype == dtype
    x32 = logits.float().requires_grad_()
    loss32 = softmax_focal_loss(x32, targets, label_smoothing=0.1, alpha=[0.5] * 6)
    loss32.backward()
    torch.testing.assert_close(loss, loss32)
    torch.testing.assert_close(x.grad.float(), x32.grad, rtol=1e-2, atol=1e-3)

    huge = torch.zeros(4, 6, dtype=dtype)
    huge[:, 0] = magnitude
    huge[1, 2] = -magnitude
    huge = huge.requires_grad_()
    loss = softmax_focal_loss(huge, torch.tensor([0, 1, 2, 3]), gamma=0.5, label_smoothing=0.1, reduction="sum")
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(huge.grad).all()


@pytest.mark.parametrize("spatial", [(), (4, 4)])
def test_empty_inputs(spatial):
    logits = torch.randn((0, 5) + spatial, requires_grad=True)
    targets = torch.zeros((0,) + spatial, dtype=torch.long)
    for reduction in ["sum", "mean", "mean_positive"]:
        loss = softmax_focal_loss(logits, targets, reduction=reduction)
        loss.backward()
        assert loss.shape == () and loss.item() == 0.0
    loss = softmax_focal_loss(logits, targets, reduction="none")
    assert loss.shape == (0,) + spatial
    loss.sum().backward()
    assert logits.grad.shape == logits.shape


def test_module_keeps_alpha_as_buffer():
    loss_fn = SoftmaxFocalLoss(alpha=[0.25, 0.75, 1.0], reduction="mean_positive")
    assert "alpha" in dict(loss_fn.named_buffers())
    assert torch.equal(loss_fn.state_dict()["alpha"], torch.tensor([0.25, 0.75, 1.0]))
    restored = SoftmaxFocalLoss(alpha=[0.0, 0.0, 0.0])
    restored.load_state_dict(loss_fn.state_dict())
    logits, targets = torch.randn(9, 3), torch.randint(0, 3, (9,))
    assert restored.alpha.tolist() == [0.25, 0.75, 1.0]
    expected = softmax_focal_loss(logits, targets, alpha=[0.25, 0.75, 1.0], reduction="mean")
    torch.testing.assert_close(restored(logits, targets), expected)
    assert loss_fn.double().alpha.dtype == torch.float64  # .to() carries it


def test_gather_distributed_without_process_group_is_single_process():
    logits, targets = torch.randn(9, 3), torch.randint(0, 3, (9,))
    expected, _ = reference_focal_loss(logits, targets, reduction="mean_positive")
    for flag in [None, True, False]:
        value = softmax_focal_loss(logits, targets, reduction="mean_positive", gather_distributed=flag)
        torch.testing.assert_close(value.double(), expected.detach(), rtol=1e-6, atol=1e-8)


def test_torch_compile_matches_eager():
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(32, 6, generator=gen)
    targets = torch.randint(0, 6, (32,), generator=gen)
    targets[::7] = -100
    loss_fn = SoftmaxFocalLoss(alpha=[0.3] * 6, gamma=1.5, label_smoothing=0.1, reduction="mean_positive")
    compiled = torch.compile(loss_fn)
    results = []
    for fn in [loss_fn, compiled]:
        x = logits.clone().requires_grad_()
        loss = fn(x, targets)
        loss.backward()
        results.append((loss.detach(), x.grad))
    assert_close_reordered(results[1][0], results[0][0])
    assert_close_reordered(results[1][1], results[0][1])


def test_backward_runs_on_plain_tensors_and_no_grad_mode_stays_plain():
    logits, targets = torch.randn(5, 3), torch.randint(0, 3, (5,))
    loss = SoftmaxFocalLoss()(logits, targets)
    loss.backward()  # as in the README's first quick example
    assert logits.grad is None
    with torch.no_grad():
        assert not SoftmaxFocalLoss()(logits, targets).requires_grad
