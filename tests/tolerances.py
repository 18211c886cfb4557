"""Tolerances for float32 results computed in another summation order (see tests/README.md).

Two float32 computations of the same math that add their terms in another order (another backend,
two DDP ranks against one process, mmdet's CE against ours, other Triton tiles, another CPU vector
width: AVX2 and AVX-512 split a reduction into other partial sums) differ by a few roundings of
the *terms* that entered each sum, not of the result: an element that comes out small through
cancellation (a weight gradient summed over positions) can be off by 1e-9 absolute, 1e-4
relative, and both are right. So the absolute tolerance scales with the tensor's largest
magnitude (a stand-in for its largest terms), in units of float32's eps, and the relative one
stays at 1e-5 (about 80 float32 ulps of the element itself). A real error (a missing factor, a
wrong denominator, a dropped term) moves values by far more than either.
"""
import pytest
import torch

FLOAT32_EPS = torch.finfo(torch.float32).eps  # 2**-23: one ulp at 1.0
RTOL = 1e-5
ULPS = 16  # of the largest magnitude: a sum of ~n terms in another order differs by ~sqrt(n) roundings


def reordered_atol(expected, ulps=ULPS):
    """The absolute tolerance for float32 results like ``expected`` computed in another order."""
    expected = torch.as_tensor(expected).detach()
    scale = expected.abs().max().item() if expected.numel() else 0.0
    return ulps * FLOAT32_EPS * scale


def assert_close_reordered(actual, expected, ulps=ULPS, rtol=RTOL):
    """``assert_close`` for float32 results of the same math summed in another order."""
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=reordered_atol(expected, ulps))


def approx_reordered(expected, rel=RTOL):
    """``pytest.approx`` for a float32 loss value summed in another order: its terms are
    non-negative, so the result itself is the scale and a relative tolerance suffices."""
    return pytest.approx(expected, rel=rel)
