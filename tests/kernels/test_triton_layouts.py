"""The Triton backend against the eager one over every layout a user can hand us: strided,
expanded, CPU-resident, float64 and list alpha; non-contiguous and expanded weight; uint8, int32
and int64 targets, strided targets; channels_last, transposed, sliced and permuted logits; empty
inputs; and the deferred (no-sync) checks. Under Triton's interpreter on CPU, on CUDA tensors in
``make gpu-check``. The kernels read ``alpha_ptr + target``, so a layout the host side forgets to
make dense gives a silently wrong loss (an expanded alpha once gave 1.2e24 where eager gives 49).

Also the launch arithmetic at real large shapes, on meta tensors (no memory): which launches need
64-bit offsets.
"""
import pytest
import torch

from imbalanced_losses import class_factors, softmax_focal_loss
from imbalanced_losses.checks import device as device_checks
from imbalanced_losses.class_factors import ClassFactors
from tests.cases import TRITON_DEVICE, defer_checks_on_every_device, needs_triton, triton_focal, triton_launches
from tests.tolerances import assert_close_reordered

pytestmark = needs_triton
REDUCTIONS = ("sum", "mean_positive", "none")
OPTIONS = dict(gamma=2.0, label_smoothing=0.1, ignore_index=255, background_class=0)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _loss_and_grad(backend, device, logits, targets, alpha=None, weight=None, reduction="sum"):
    """Loss and gradient of one call; tensors are moved to ``device`` keeping their layout."""
    def move(t):
        return t if t is None or not isinstance(t, torch.Tensor) else _to_device_keeping_strides(t, device)
    x = move(logits.detach()).requires_grad_()
    loss = softmax_focal_loss(x, move(targets), alpha=move(alpha), weight=move(weight), reduction=reduction,
                              backend=backend, **OPTIONS)
    upstream = torch.rand(loss.shape, generator=_gen(7)).to(device)
    (loss * upstream).sum().backward()
    return loss.detach().cpu(), x.grad.cpu()


def _to_device_keeping_strides(tensor, device):
    """``tensor`` on ``device`` as the same kind of view (strided or expanded), not a dense copy."""
    if str(tensor.device) == str(device):
        return tensor
    expanded = [d for d, (size, stride) in enumerate(zip(tensor.shape, tensor.stride())) if stride == 0 and size > 1]
    if expanded:
        base = tensor
        for dim in expanded:
            base = base.narrow(dim, 0, 1)
        return _to_device_keeping_strides(base, device).expand(tensor.shape)
    out = torch.empty_strided(tensor.size(), tensor.stride(), dtype=tensor.dtype, device=device)
    return out.copy_(tensor)


def _assert_triton_matches_eager(logits, targets, alpha=None, weight=None, reductions=REDUCTIONS,
                                 alpha_device=None):
    """Triton (on TRITON_DEVICE; alpha on ``alpha_device`` if given) against eager on CPU."""
    for reduction in reductions:
        expected = _loss_and_grad("eager", "cpu", logits, targets, alpha, weight, reduction)
        triton_alpha = alpha
        if alpha_device is not None and isinstance(alpha, torch.Tensor):
            triton_alpha = alpha.to(alpha_device)  # e.g. a CPU alpha for CUDA logits
        with triton_launches() as launched:
            actual = _loss_and_grad("triton", TRITON_DEVICE, logits, targets, triton_alpha, weight, reduction)
        assert launched or logits.numel() == 0, "the Triton kernels did not run"
        for value, value_expected in zip(actual, expected):
            assert_close_reordered(value, value_expected)


def _case(shape, seed=0):
    gen = _gen(seed)
    logits = torch.randn(shape, generator=gen) * 3
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=gen)
    targets[torch.rand(targets.shape, generator=gen) < 0.1] = 255
    return logits, targets, gen


@pytest.mark.parametrize("layout", ["strided", "expanded", "list", "float64", "cpu_resident", "sliced_from_larger"])
@pytest.mark.parametrize("shape", [(48, 5), (2, 5, 3, 4)])
def test_alpha_in_any_layout(layout, shape):
    logits, targets, gen = _case(shape)
    base = torch.rand(2 * shape[1], generator=gen) + 0.5
    alpha = {"strided": base[::2], "expanded": torch.tensor([0.7]).expand(shape[1]), "list": base[:shape[1]].tolist(),
             "float64": base[:shape[1]].double(), "cpu_resident": base[:shape[1]],
             "sliced_from_larger": base[3:3 + shape[1]]}[layout]
    _assert_triton_matches_eager(logits, targets, alpha=alpha, alpha_device="cpu" if layout == "cpu_resident" else None)


def test_channels_last_logits_with_a_strided_alpha():
    logits, targets, gen = _case((2, 5, 3, 4))
    alpha = (torch.rand(10, generator=gen) + 0.5)[::2]
    _assert_triton_matches_eager(logits.contiguous(memory_format=torch.channels_last), targets, alpha=alpha)


@pytest.mark.parametrize("layout", ["transposed", "expanded", "sliced"])
def test_weight_in_any_layout(layout):
    logits, targets, gen = _case((4, 6, 5, 3))
    if layout == "transposed":
        weight = torch.rand(4, 3, 5, generator=gen).transpose(1, 2)
    elif layout == "expanded":
        weight = torch.rand(4, 1, 1, generator=gen).expand(4, 5, 3)
    else:
        weight = torch.rand(4, 10, 3, generator=gen)[:, ::2]
    assert not weight.is_contiguous()
    _assert_triton_matches_eager(logits, targets, weight=weight)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int32, torch.int64])
@pytest.mark.parametrize("shape", [(40, 7), (2, 7, 4, 3)])
def test_target_dtypes(dtype, shape):
    logits, targets, gen = _case(shape)
    _assert_triton_matches_eager(logits, targets.to(dtype), alpha=torch.rand(shape[1], generator=gen) + 0.5)


def test_strided_targets():
    logits, _, gen = _case((20, 7))
    targets = torch.randint(0, 7, (20, 3), generator=gen)[:, 1]
    assert not targets.is_contiguous()
    _assert_triton_matches_eager(logits, targets)


@pytest.mark.parametrize("layout", ["transposed", "channels_last", "rows_sliced", "classes_sliced", "permuted_3d",
                                    "spatial_sliced"])
def test_logits_in_any_layout(layout):
    gen = _gen(3)
    logits = {
        "transposed": lambda: torch.randn(9, 40, generator=gen).t(),
        "channels_last": lambda: torch.randn(2, 7, 5, 6, generator=gen).contiguous(memory_format=torch.channels_last),
        "rows_sliced": lambda: torch.randn(30, 13, generator=gen)[::3],
        "classes_sliced": lambda: torch.randn(30, 13, generator=gen)[:, 2:9],
        "permuted_3d": lambda: torch.randn(2, 4, 5, 3, generator=gen).permute(0, 3, 1, 2),
        "spatial_sliced": lambda: torch.randn(2, 7, 5, 9, generator=gen)[..., ::2],
    }[layout]() * 3
    targets = torch.randint(0, logits.shape[1], logits.shape[:1] + logits.shape[2:], generator=gen)
    alpha = torch.rand(logits.shape[1], generator=gen) + 0.5
    _assert_triton_matches_eager(logits, targets, alpha=alpha)


@pytest.mark.parametrize("shape", [(0, 5), (0, 5, 3, 3), (2, 5, 0, 3)])
def test_zero_size_inputs(shape):
    logits, targets, gen = _case(shape)
    _assert_triton_matches_eager(logits, targets, alpha=torch.rand(5, generator=gen))


@pytest.fixture
def deferred_checks(monkeypatch):
    """The no-sync path CUDA takes by default, on this machine's device too."""
    defer_checks_on_every_device(monkeypatch)
    device_checks.raise_deferred_errors()  # nothing pending from an earlier test
    yield
    device_checks.raise_deferred_errors()  # a false flag raises here


@pytest.mark.parametrize("shape", [(48, 5), (2, 5, 3, 4)])
def test_deferred_checks_read_a_strided_alpha_as_it_is(deferred_checks, shape):
    """Under deferred checks the kernel flags bad alpha values as it reads them: from a strided view
    whose base holds a negative value between the selected ones, it must neither use nor flag it."""
    logits, targets, _ = _case(shape)
    base = torch.tensor([0.5, -1.0] * shape[1])
    _assert_triton_matches_eager(logits, targets, alpha=base[::2])


def test_deferred_checks_still_flag_a_bad_alpha_value(deferred_checks):
    logits, targets, _ = _case((48, 5))
    targets[0] = 3
    alpha = torch.tensor([0.5, 0.5, 9.0, -1.0, 0.5, 7.0])[:5]
    softmax_focal_loss(logits.to(TRITON_DEVICE), targets.to(TRITON_DEVICE), alpha=alpha.to(TRITON_DEVICE),
                       backend="triton", **OPTIONS)
    with pytest.raises(ValueError, match=r"alpha must be finite and non-negative.*alpha\[3\]"):
        device_checks.raise_deferred_errors()


def test_a_cpu_alpha_is_copied_to_the_device_once_per_values(monkeypatch):
    """A CPU alpha for device logits (a list, or a tensor not moved) is copied once and reused: a
    pageable copy at every call stalls the host and cannot be captured in a CUDA graph. The meta
    device stands in for CUDA."""
    monkeypatch.setattr(class_factors, "_DEVICE_COPIES", type(class_factors._DEVICE_COPIES)())
    meta, float32 = torch.device("meta"), torch.float32
    alpha = torch.tensor([0.25, 0.75, 1.0])
    factors = ClassFactors(alpha)
    first = factors.on_device(meta, float32).alpha
    assert first.device == meta and factors.on_device(meta, float32).alpha is first
    assert ClassFactors(torch.tensor([0.25, 0.75, 1.0])).on_device(meta, float32).alpha is first  # same values
    assert factors.on_device(meta, torch.float64).alpha.dtype == torch.float64  # another dtype: its own copy
    alpha[0] = 0.5  # changed in place: a new copy, not the stale one
    changed = factors.on_device(meta, float32).alpha
    assert changed is not first and factors.on_device(meta, float32).alpha is changed
    assert factors.on_device(torch.device("cpu"), float32).alpha is alpha  # already there: as it is
    strided = torch.tensor([1.0, 0.0, 2.0, 0.0])[::2]  # the kernels read alpha_ptr + target: made contiguous
    assert factors._replace(alpha=strided).on_device(torch.device("cpu"), float32).alpha.is_contiguous()
    for i in range(2 * class_factors._DEVICE_COPIES_KEPT):  # a bounded cache
        class_factors.device_copy(torch.tensor([float(i)]), meta, float32)
    assert len(class_factors._DEVICE_COPIES) == class_factors._DEVICE_COPIES_KEPT


# --- launch arithmetic at real large shapes (meta tensors: shapes and strides, no memory) ---

def _launch(shape, dtype=torch.bfloat16, memory_format=torch.contiguous_format):
    logits = torch.empty(shape, dtype=dtype, device="meta").contiguous(memory_format=memory_format)
    return triton_focal._Launch(triton_focal._as_bcs(logits))


@pytest.mark.parametrize("shape,why", [
    ((8, 150, 1024, 2048), "a bf16 ADE20K-sized batch: 2.5e9 logits"),
    ((2**31 // 81 + 1, 81), "detector rows: N * C just past 2**31"),
    ((1, 2, 2**29), "binary 3-D segmentation: 2**30 logits, the saved buffer's 4 planes reach 2**31"),
    ((1, 2, 715_827_883), "the position count where 3 * P wraps int32"),
    ((4, 2, 512, 512, 512), "binary volumes: 2**29 positions"),
])
def test_offsets_that_can_reach_2_31_are_64_bit(shape, why):
    launch = _launch(shape)
    positions = launch.num_b * launch.num_s
    logits_elements = positions * launch.num_classes
    assert max(logits_elements, triton_focal.NUM_PLANES * positions) >= 2**31, why
    assert launch.wide, why
    assert triton_focal.needs_wide_offsets(launch.view, launch.tile), why
    assert triton_focal.PARTIAL_SLOTS.value * launch.max_programs < 2**31  # int32 partial offsets


@pytest.mark.parametrize("shape,memory_format", [
    ((1024, 81), torch.contiguous_format),
    ((8, 19, 512, 1024), torch.contiguous_format),
    ((8, 19, 512, 1024), torch.channels_last),
    ((1, 2, 2**28), torch.contiguous_format),  # the saved buffer ends at 2**30: int32 offsets suffice
])
def test_offsets_stay_32_bit_below_2_31(shape, memory_format):
    launch = _launch(shape, memory_format=memory_format)
    positions = launch.num_b * launch.num_s
    assert positions * launch.num_classes < 2**31 and triton_focal.NUM_PLANES * positions < 2**31
    assert not launch.wide


def test_a_strided_view_counts_the_memory_it_spans():
    """A view that skips elements addresses past numel(): its span decides, not its size."""
    logits = torch.empty(2**31 // 81 // 4, 81 * 4, dtype=torch.bfloat16, device="meta")[:, ::4]
    assert logits.numel() < 2**31 // 3
    assert triton_focal._Launch(triton_focal._as_bcs(logits)).wide
