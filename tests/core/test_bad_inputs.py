import math

import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, softmax_focal_loss
from tests.reference import reference_focal_loss

LOGITS = torch.randn(4, 3)
TARGETS = torch.tensor([0, 1, 2, 1])


@pytest.mark.parametrize("logits,targets,kwargs,error,match", [
    (LOGITS, torch.tensor([0, 1, 3, 1]), {}, ValueError, r"targets must be in \[0, 3\).*got 3"),
    (LOGITS, torch.tensor([0, -1, 2, 1]), {}, ValueError, r"targets must be in .*ignore_index=-100.*got -1"),
    (LOGITS, torch.tensor([0, 255, 2, 1]), {"ignore_index": -100}, ValueError, "got 255"),
    (LOGITS, TARGETS.float(), {}, TypeError, "targets must be integer.*float32"),
    (LOGITS, TARGETS.bool(), {}, TypeError, "targets must be integer"),
    (LOGITS, TARGETS[:3], {}, ValueError, r"targets must have shape \(4,\).*got \(3,\)"),
    (torch.randn(2, 3, 4, 5), torch.zeros(2, 4, 6, dtype=torch.long), {}, ValueError,
     r"targets must have shape \(2, 4, 5\)"),
    (torch.randn(2, 3, 4), torch.zeros(2, dtype=torch.long), {}, ValueError, r"targets must have shape \(2, 4\)"),
    (torch.randn(3), torch.tensor([0, 1, 2]), {}, ValueError, r"inputs must have shape \(N, C\)"),
    (torch.randn(3, 0), torch.zeros(3, dtype=torch.long), {}, ValueError, "at least one class"),
    (LOGITS.long(), TARGETS, {}, TypeError, "inputs must be floating-point.*int64"),
    (LOGITS.tolist(), TARGETS, {}, TypeError, "inputs and targets must be tensors"),
    (LOGITS, TARGETS, {"alpha": [0.25, 0.75]}, ValueError, r"alpha must have shape \(3,\).*got \(2,\)"),
    (LOGITS, TARGETS, {"alpha": [0.25, -0.1, 1.0]}, ValueError, "alpha must be non-negative"),
    (LOGITS, TARGETS, {"alpha": [[0.25, 0.1, 1.0]]}, ValueError, "alpha must be 1-D"),
    (LOGITS, TARGETS, {"alpha": torch.ones(1, 3)}, ValueError,
     r"alpha must be 1-D of shape \(C,\), got shape \(1, 3\)"),
    (LOGITS, TARGETS, {"alpha": [0.25, math.nan, 1.0]}, ValueError, "alpha must be finite"),
    (LOGITS, TARGETS, {"alpha": "balanced"}, TypeError, "alpha must be None, a 1-D tensor or a list"),
    (LOGITS, TARGETS, {"gamma": -1.0}, ValueError, "gamma must be a real number >= 0, got -1.0"),
    (LOGITS, TARGETS, {"gamma": math.nan}, ValueError, "gamma must be a real number >= 0, got nan"),
    (LOGITS, TARGETS, {"gamma": "2"}, TypeError, "gamma must be a real number"),
    (LOGITS, TARGETS, {"reduction": "avg"}, ValueError, "reduction must be one of .*got 'avg'"),
    (LOGITS, TARGETS, {"label_smoothing": 1.5}, ValueError,
     r"label_smoothing must be a real number in \[0, 1\], got 1.5"),
    (LOGITS, TARGETS, {"label_smoothing": -0.1}, ValueError, "label_smoothing must be a real number in"),
    (LOGITS, TARGETS, {"reduction": "mean_positive", "background_class": 3}, ValueError,
     r"background_class must be in \[0, 3\).*got 3"),
    (LOGITS, TARGETS, {"ignore_index": 1.5}, TypeError, "ignore_index must be an int"),
    (LOGITS, TARGETS, {"gather_distributed": "yes"}, TypeError, "gather_distributed must be None, True or False"),
    (LOGITS, TARGETS, {"backend": "gpu"}, ValueError, r"backend must be one of \('auto', 'eager', 'compile', "
     r"'triton'\), got 'gpu'"),
    (LOGITS, TARGETS, {"sync_checks": 1}, TypeError, "sync_checks must be True or False, got 1"),
    (LOGITS, TARGETS, {"weight": torch.ones(3)}, ValueError, r"weight must be a tensor shaped like targets"),
])
def test_bad_input_raises_clear_error(logits, targets, kwargs, error, match):
    with pytest.raises(error, match=match):
        softmax_focal_loss(logits, targets, **kwargs)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"alpha": [0.5, -1.0]}, ValueError, "alpha must be non-negative"),
    ({"gamma": -0.5}, ValueError, "gamma must be a real number >= 0"),
    ({"reduction": "batchmean"}, ValueError, "reduction must be one of"),
    ({"label_smoothing": 2}, ValueError, "label_smoothing must be a real number in"),
])
def test_module_checks_options_at_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        SoftmaxFocalLoss(**kwargs)


def test_background_class_only_checked_for_mean_positive():
    # background_class is unused by the other reductions; an out-of-range value is harmless there.
    value = softmax_focal_loss(LOGITS, TARGETS, reduction="mean", background_class=7)
    expected, _ = reference_focal_loss(LOGITS, TARGETS, reduction="mean")
    torch.testing.assert_close(value.double(), expected.detach(), rtol=1e-6, atol=1e-8)


def test_setting_an_option_on_the_module_checks_it_again():
    loss_fn = SoftmaxFocalLoss(gamma=2.0)
    with pytest.raises(ValueError, match=r"gamma must be a real number >= 0, got -1"):
        loss_fn.gamma = -1
    with pytest.raises(ValueError, match=r"reduction must be one of"):
        loss_fn.reduction = "avg"
    assert loss_fn.gamma == 2.0 and loss_fn.reduction == "mean"  # unchanged by the refused values
    loss_fn.gamma = 0  # accepted values take effect: gamma 0 is cross-entropy
    logits, targets = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    torch.testing.assert_close(loss_fn(logits, targets), torch.nn.functional.cross_entropy(logits, targets))
    assert isinstance(loss_fn.gamma, float)
