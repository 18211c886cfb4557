"""The float32 tolerances of tolerances.py let summation-order noise through and real errors not."""
import pytest
import torch

from tests.tolerances import FLOAT32_EPS, approx_reordered, assert_close_reordered


def gradient_like():
    """A weight gradient: some elements come out small through cancellation."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(5, 4, generator=gen) * torch.tensor([6.5, 1e-3, 0.2, 4e-6])


def test_summation_noise_passes():
    expected = gradient_like()
    scale = expected.abs().max()
    noisy = expected + torch.tensor([1.0, -1.0, 2.0, -3.0]) * FLOAT32_EPS * scale  # a few ulps of the largest
    assert_close_reordered(noisy, expected)
    assert 1.0 + 5e-6 == approx_reordered(1.0)


@pytest.mark.parametrize("error", ["factor", "dropped_term", "small_element"])
def test_real_errors_fail(error):
    expected = gradient_like()
    wrong = expected.clone()
    if error == "factor":  # e.g. a denominator off by one position in 1000
        wrong *= 1.001
    elif error == "dropped_term":  # one position's contribution missing from one element
        wrong[2, 0] -= 0.01
    else:  # a small element wrong by far more than the roundings of its terms
        wrong[1, 3] += 1e-3 * expected.abs().max()
    with pytest.raises(AssertionError):
        assert_close_reordered(wrong, expected)
    assert 1.001 != approx_reordered(1.0)
