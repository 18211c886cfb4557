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


def test_the_gpu_exp_log_tolerance_follows_the_stated_accuracy():
    """|logits| <= 10 over 20 classes: exponents span 20 + log 20; __expf's (2 + 1.173 * 23.0) ulp and
    __logf's 2**-21.41, times (2 + gamma); never below the CPU's reordering tolerance."""
    from tests.tolerances import LOG_ABSOLUTE_ERROR, approx_exp_log_rtol, assert_close_on_gpu
    logits = torch.zeros(3, 20)
    logits[0, 0], logits[0, 1] = 10.0, -10.0
    span = 20.0 + torch.log(torch.tensor(20.0)).item()
    expected = (2 + 2.0) * ((2 + 1.173 * span) * FLOAT32_EPS + LOG_ABSOLUTE_ERROR)
    assert approx_exp_log_rtol(logits, gamma=2.0) == pytest.approx(expected, rel=1e-6)
    assert 1e-5 < expected < 1e-4  # wider than the CPU's reordering, far below a real error
    assert approx_exp_log_rtol(logits / 100, gamma=0.0) == 1e-5  # the reordering floor
    values = gradient_like()
    assert_close_on_gpu(values * (1 + 0.5 * expected), values, logits, gamma=2.0)
    with pytest.raises(AssertionError):
        assert_close_on_gpu(values * (1 + 1e-3), values, logits, gamma=2.0)  # a real error: a missing term
