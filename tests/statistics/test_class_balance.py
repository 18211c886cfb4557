"""class_balanced_alpha: Cui et al.'s effective-number weights against hand-computed values; the
per-category-id counts of a COCO file."""
import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, class_balanced_alpha


def test_hand_computed_weights_sum_to_the_number_of_classes():
    # beta 0.99, counts (1000, 10, 1): 1 / E_n = 0.01 / (1 - 0.99^n)
    #   n = 1000: 0.01 / (1 - 4.317e-5)  = 0.0100004317
    #   n = 10:   0.01 / (1 - 0.9043821) = 0.1045829012   (0.99^10 = 0.9043821)
    #   n = 1:    0.01 / 0.01            = 1
    # sum 1.1145833329; normalised to sum 3: 0.0269170, 0.2814942, 2.6915888
    weights = class_balanced_alpha([1000, 10, 1], beta=0.99)
    assert weights.dtype == torch.float32 and weights.shape == (3,)
    torch.testing.assert_close(weights, torch.tensor([0.0269170, 0.2814942, 2.6915888]), rtol=2e-6, atol=0)
    assert weights.sum().item() == pytest.approx(3.0)


def test_beta_zero_is_uniform_and_beta_near_one_is_inverse_frequency():
    torch.testing.assert_close(class_balanced_alpha([500, 5, 1], beta=0.0), torch.ones(3))
    weights = class_balanced_alpha([400, 100, 4], beta=1 - 1e-9)
    inverse = torch.tensor([1 / 400, 1 / 100, 1 / 4])
    torch.testing.assert_close(weights, inverse * 3 / inverse.sum(), rtol=1e-5, atol=0)


def test_mean_and_background_placement():
    foreground = class_balanced_alpha([300, 30, 3], beta=0.999, mean=0.25)
    assert foreground.mean().item() == pytest.approx(0.25)
    first = class_balanced_alpha([300, 30, 3], beta=0.999, mean=0.25, background_class=0, background_weight=0.75)
    last = class_balanced_alpha([300, 30, 3], beta=0.999, mean=0.25, background_class=3, background_weight=0.75)
    torch.testing.assert_close(first, torch.cat([torch.tensor([0.75]), foreground]))
    torch.testing.assert_close(last, torch.cat([foreground, torch.tensor([0.75])]))
    default = class_balanced_alpha([300, 30, 3], beta=0.999, mean=0.25, background_class=0)
    assert default[0].item() == pytest.approx(0.25)  # background weighted as an average class
    # the result drops into the loss as alpha
    loss = SoftmaxFocalLoss(alpha=first, reduction="mean_positive", background_class=0)
    assert torch.isfinite(loss(torch.randn(8, 4), torch.randint(0, 4, (8,))))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(counts=[10, 0, 3]), ValueError, r"counts must be >= 1 .* got 0 for class 1"),
    (dict(counts=[10, 2.5]), TypeError, r"counts must be integers, got 2.5 for class 1"),
    (dict(counts=[]), TypeError, "counts must be a non-empty sequence"),
    (dict(counts=[10, 3], beta=1.0), ValueError, r"beta must be a real number in \[0, 1\), got 1.0"),
    (dict(counts=[10, 3], mean=0), ValueError, "mean must be a finite number > 0, got 0"),
    (dict(counts=[10, 3], background_class=3), ValueError, r"background_class must be None or an int in \[0, 2\]"),
    (dict(counts=[10, 3], background_weight=0.75), ValueError, "background_weight needs background_class"),
    (dict(counts=[10, 3], background_class=0, background_weight=-1), ValueError, "background_weight must be"),
    # A wrong type is a TypeError and a wrong value a ValueError, for every scalar (checks/scalars.py).
    (dict(counts=[10, 3], beta="0.9"), TypeError, r"beta must be a real number in \[0, 1\), got '0.9'"),
    (dict(counts=[10, 3], mean=None), TypeError, "mean must be a finite number > 0, got None"),
    (dict(counts=[10, 3], background_class=1.0), TypeError, "background_class must be an int, got 1.0"),
])
def test_bad_arguments_name_themselves(kwargs, error, match):
    with pytest.raises(error, match=match):
        class_balanced_alpha(**kwargs)


def test_tensor_counts():
    torch.testing.assert_close(class_balanced_alpha(torch.tensor([1000, 10, 1]), beta=0.99),
                               class_balanced_alpha([1000, 10, 1], beta=0.99))


def test_median_frequency_against_hand_computed_weights():
    # freq = (600/1000, 30/300, 10/200) = (0.6, 0.1, 0.05); median 0.1; alpha = 0.1 / freq
    from imbalanced_losses import median_frequency_alpha
    weights = median_frequency_alpha([600, 30, 10], [1000, 300, 200])
    assert weights.dtype == torch.float32
    torch.testing.assert_close(weights, torch.tensor([1 / 6, 1.0, 2.0]), rtol=1e-6, atol=0)
    # four classes: the median is the mean of the two middle frequencies, (0.1 + 0.2) / 2
    torch.testing.assert_close(median_frequency_alpha([600, 30, 10, 40], [1000, 300, 200, 200]),
                               torch.tensor([0.25, 1.5, 3.0, 0.75]), rtol=1e-6, atol=0)


@pytest.mark.parametrize("pixels,image_pixels,message", [
    ([5, 0], [10, 10], "pixel_counts must be >= 1 .*got 0 for class 1"),
    ([5, 20], [10, 10], "image_pixel_counts must be >= pixel_counts .*got 10 < 20 for class 1"),
    ([5, 2], [10], "one entry per class, got 2 and 1"),
])
def test_median_frequency_bad_counts_name_themselves(pixels, image_pixels, message):
    from imbalanced_losses import median_frequency_alpha
    with pytest.raises(ValueError, match=message):
        median_frequency_alpha(pixels, image_pixels)
