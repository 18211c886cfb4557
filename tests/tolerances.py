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


# On a GPU, exp and log are the hardware's approximations: Triton's tl.exp / tl.log lower to PTX
# ex2.approx / lg2.approx, which are CUDA's __expf / __logf. The CUDA C++ Programming Guide's table of
# intrinsic functions states their accuracy: __expf(x) is within 2 + floor(1.173 |x|) ulp; __logf(x)
# within 2**-21.41 absolute for x in [0.5, 2], else 3 ulp. For a row whose exponents x - lse span at
# most R (the row's max - min, plus log C): each exp is within (2 + 1.173 R) eps relative, so is their
# sum, and the log-sum-exp within that plus 2**-21.41 absolute; a probability exp(x - lse) carries
# both, and the focal factor (1 - p_t)**gamma (exp2(gamma * log2(q))) about gamma times that again.
LOG_ABSOLUTE_ERROR = 2 ** -21.41


def approx_exp_log_rtol(logits, gamma):
    """The relative tolerance of float32 GPU results against CPU float32 (or float64) ones, from the
    stated accuracy of __expf / __logf for these logits and this gamma (the derivation above)."""
    logits = torch.as_tensor(logits).detach().float()
    if logits.numel() == 0:
        return RTOL
    rows = logits.movedim(1, -1).reshape(-1, logits.shape[1])
    span = (rows.max(1).values - rows.min(1).values).max().item() + torch.log(torch.tensor(float(logits.shape[1])))
    per_exp = (2 + 1.173 * float(span)) * FLOAT32_EPS
    return max(RTOL, (2 + gamma) * (per_exp + LOG_ABSOLUTE_ERROR))


def assert_close_on_gpu(actual, expected, logits, gamma, ulps=ULPS):
    """``assert_close_reordered`` widened by the GPU's exp/log accuracy (``approx_exp_log_rtol``), for
    float32 results of a GPU against the CPU: the relative tolerance, and the absolute one in the
    same proportion to the largest magnitude (an element that cancels keeps its terms' error)."""
    rtol = approx_exp_log_rtol(logits, gamma)
    atol = max(reordered_atol(expected, ulps), rtol * reordered_atol(expected, 1) / FLOAT32_EPS)
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)
