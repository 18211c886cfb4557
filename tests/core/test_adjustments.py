"""Logit adjustment and Seesaw's factors (adjustments.py): every backend against a float64
reference written from the papers' formulas (loops over positions, products of factors), the
invariances they must keep, counts accumulated in training (and summed across 2 gloo ranks), the
offsets helper, and bad values named."""
import math
import socket

import pytest
import torch
import torch.multiprocessing as mp

from cases import BACKENDS, DEVICE
from imbalanced_losses import SoftmaxFocalLoss, logit_adjustment_offsets, softmax_focal_loss
from imbalanced_losses.kernels import ops
from reference import reference_focal_loss


def seesaw_offsets_loop(logits, targets, counts, p, q, background_class, ignore_index=-100):
    """log S_yj per position and class, straight from the definition (float64, one row at a time)."""
    num_classes = logits.shape[1]
    rows = logits.detach().double().movedim(1, -1).reshape(-1, num_classes)
    labels = targets.reshape(-1).tolist()
    offsets = torch.zeros_like(rows)
    for i, y in enumerate(labels):
        if y == ignore_index or y == background_class:
            continue
        scores = torch.softmax(rows[i], 0).tolist()
        for j in range(num_classes):
            if j == y or j == background_class:
                continue
            n_j, n_y = max(float(counts[j]), 1.0), max(float(counts[y]), 1.0)
            mitigation = (n_j / n_y) ** p if n_j < n_y else 1.0
            ratio = scores[j] / max(scores[y], 1e-2)
            compensation = ratio ** q if ratio > 1.0 else 1.0
            offsets[i, j] = math.log(mitigation * compensation)
    return offsets.reshape(logits.movedim(1, -1).shape).movedim(-1, 1)


def make_case(shape, seed):
    gen = torch.Generator().manual_seed(seed)
    num_classes = shape[1]
    logits = torch.randn(shape, generator=gen) * 3
    targets = torch.randint(0, num_classes, shape[:1] + shape[2:], generator=gen)
    targets[torch.rand(targets.shape, generator=gen) < 0.15] = -100
    counts = (torch.rand(num_classes, generator=gen) * 1000).round()
    counts[-1] = 0  # a class never seen: clamped to 1
    return logits, targets, counts


def check(value, ref, x, ref_x, atol=2e-5):
    scale = 1 + ref.detach().abs().max().item()
    torch.testing.assert_close(value.double().cpu(), ref.detach(), rtol=1e-5, atol=atol * scale)
    grad_scale = 1 + ref_x.grad.abs().max().item()
    torch.testing.assert_close(x.grad.double().cpu(), ref_x.grad, rtol=1e-5, atol=atol * grad_scale)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", [(64, 7), (3, 5, 4, 3)], ids=["rows", "nchw"])
@pytest.mark.parametrize("reduction, background_class", [("none", 0), ("mean_positive", 0), ("mean", -1)],
                         ids=["none", "mean_positive", "mean-no-background"])
def test_seesaw_and_offsets_match_the_float64_reference(backend, shape, reduction, background_class):
    """background_class in [0, C) is exempt from the factors; -1 exempts nothing."""
    logits, targets, counts = make_case(shape, seed=3)
    offsets = torch.linspace(-1.5, 0.7, shape[1])
    options = dict(gamma=1.5, alpha=torch.linspace(0.2, 1.0, shape[1]), label_smoothing=0.1,
                   background_class=background_class)
    device = DEVICE[backend]
    x = logits.clone().to(device).requires_grad_()
    value = softmax_focal_loss(x, targets.to(device), reduction=reduction, backend=backend,
                               logit_offsets=offsets.to(device), seesaw_p=0.8, seesaw_q=2.0, class_counts=counts,
                               **options)
    view = [1, shape[1]] + [1] * (len(shape) - 2)
    adjusted = (logits.double() + offsets.double().view(view)
                + seesaw_offsets_loop(logits, targets, counts, 0.8, 2.0, background_class))
    ref, ref_x = reference_focal_loss(adjusted, targets, reduction=reduction, **options)
    upstream = torch.rand(ref.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (value * upstream.to(value.dtype).to(device)).sum().backward()
    (ref * upstream).sum().backward()
    check(value, ref, x, ref_x)


@pytest.mark.parametrize("p, q", [(0.8, 0.0), (0.0, 2.0), (1.3, 0.5)])
def test_each_factor_alone_matches_the_reference(p, q):
    logits, targets, counts = make_case((50, 6), seed=int(10 * p + q))
    x = logits.clone().requires_grad_()
    value = softmax_focal_loss(x, targets, gamma=2.0, reduction="sum", seesaw_p=p, seesaw_q=q, class_counts=counts,
                               background_class=2)
    adjusted = logits.double() + seesaw_offsets_loop(logits, targets, counts, p, q, 2)
    ref, ref_x = reference_focal_loss(adjusted, targets, gamma=2.0, reduction="sum")
    value.backward()
    ref.backward()
    check(value, ref, x, ref_x)


def test_a_constant_offset_changes_nothing_and_zero_offsets_change_no_bit():
    logits, targets, _ = make_case((40, 5), seed=1)
    grads = []
    values = []
    for offsets in (None, [0.0] * 5, [2.5] * 5):
        x = logits.clone().requires_grad_()
        value = softmax_focal_loss(x, targets, alpha=[0.75] + [0.25] * 4, reduction="mean_positive",
                                   logit_offsets=offsets)
        value.backward()
        values.append(value)
        grads.append(x.grad)
    assert torch.equal(values[0], values[1]) and torch.equal(grads[0], grads[1])
    torch.testing.assert_close(values[2], values[0], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grads[2], grads[0], rtol=1e-5, atol=1e-7)


def test_seesaw_with_equal_counts_and_q_0_changes_nothing():
    logits, targets, _ = make_case((40, 5), seed=2)
    plain = softmax_focal_loss(logits, targets, reduction="none")
    seesaw = softmax_focal_loss(logits, targets, reduction="none", seesaw_p=0.8, class_counts=[7.0] * 5)
    assert torch.equal(plain, seesaw)


def test_logit_adjustment_offsets_keep_the_balance_of_a_uniform_foreground():
    assert torch.equal(logit_adjustment_offsets([1000, 5, 5, 5], tau=1.0, background_class=0), torch.zeros(4))
    assert torch.equal(logit_adjustment_offsets([3, 3, 3], tau=0.5), torch.zeros(3))
    offsets = logit_adjustment_offsets([90, 10, 0, 50], tau=0.5, background_class=3)
    prior = torch.tensor([90.0, 10.0, 1.0]) / 101  # a count of 0 counts as 1
    expected = torch.cat([0.5 * torch.log(3 * prior), torch.zeros(1)])
    torch.testing.assert_close(offsets, expected)
    assert torch.equal(logit_adjustment_offsets([90, 10, 1], tau=0.0), torch.zeros(3))


def test_the_module_accumulates_counts_in_training_only():
    logits, targets, _ = make_case((30, 4), seed=4)
    module = SoftmaxFocalLoss(seesaw_p=0.8, seesaw_q=2.0, class_counts=[0] * 4, accumulate_counts=True)
    module(logits, targets)
    expected = torch.bincount(targets[targets != -100], minlength=4).double()
    assert torch.equal(module.class_counts, expected)
    module.eval()
    module(logits, targets)
    assert torch.equal(module.class_counts, expected)
    module.train()
    value = module(logits, targets)  # counts first (as mmdet's SeesawLoss), then the factors
    assert torch.equal(module.class_counts, 2 * expected)
    torch.testing.assert_close(value, softmax_focal_loss(logits, targets, seesaw_p=0.8, seesaw_q=2.0,
                                                         class_counts=2 * expected))
    restored = SoftmaxFocalLoss(seesaw_p=0.8, class_counts=[0] * 4, accumulate_counts=True)
    restored.load_state_dict(module.state_dict())  # a resumed run goes on from the saved counts
    assert torch.equal(restored.class_counts, 2 * expected)


def _accumulating_rank(rank, world_size, port, logits, targets, out):
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size)
    try:
        module = SoftmaxFocalLoss(reduction="mean_positive", seesaw_p=0.8, seesaw_q=2.0, class_counts=[0] * 5,
                                  accumulate_counts=True, gather_distributed=True)
        values = [module(logits[rank], targets[rank]).item() for _ in range(2)]
        torch.save(dict(values=values, counts=module.class_counts), f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_accumulated_counts_are_summed_across_ranks(tmp_path):
    """2 gloo ranks: both hold the counts of the whole batch, and the loss is one process's on
    the concatenated inputs with those counts."""
    gen = torch.Generator().manual_seed(5)
    logits = [torch.randn(n, 5, generator=gen) * 2 for n in (9, 4)]
    targets = [torch.randint(0, 5, (n,), generator=gen) for n in (9, 4)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_accumulating_rank, args=(2, port, logits, targets, str(tmp_path)), nprocs=2,
                       start_method="spawn")
    all_logits, all_targets = torch.cat(logits), torch.cat(targets)
    counts = torch.bincount(all_targets, minlength=5).double()
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert torch.equal(result["counts"], 2 * counts)
        for step, value in enumerate(result["values"], 1):
            expected = softmax_focal_loss(all_logits, all_targets, reduction="mean_positive", seesaw_p=0.8,
                                          seesaw_q=2.0, class_counts=step * counts)
            assert value == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("arguments, error, message", [
    (dict(seesaw_p=-1.0, class_counts=[1] * 4), ValueError, "seesaw_p must be a finite real number >= 0, got -1.0"),
    (dict(seesaw_q=float("nan")), ValueError, "seesaw_q must be a finite real number >= 0, got nan"),
    (dict(seesaw_q="2"), TypeError, "seesaw_q must be a finite real number >= 0, got '2'"),
    (dict(seesaw_p=0.8), ValueError, r"seesaw_p=0.8 needs class_counts \(C,\)"),
    (dict(seesaw_p=0.8, class_counts=[1, 2, -3, 4]), ValueError,
     "class_counts must hold finite numbers >= 0, got -3.0 at class 2"),
    (dict(seesaw_p=0.8, class_counts=[1, 2, 3]), ValueError, r"class_counts must have shape \(4,\) to match"),
    (dict(logit_offsets=[0.0, float("inf"), 0.0, 0.0]), ValueError,
     "logit_offsets must hold finite numbers, got inf at class 1"),
    (dict(logit_offsets=[0.0] * 5), ValueError, r"logit_offsets must have shape \(4,\) to match inputs' C = 4"),
    (dict(logit_offsets="log prior"), TypeError, "logit_offsets must be None, a 1-D tensor or a list of numbers"),
])
def test_bad_values_are_named(arguments, error, message):
    with pytest.raises(error, match=message):
        softmax_focal_loss(torch.randn(6, 4), torch.randint(0, 4, (6,)), **arguments)


def test_bad_module_and_helper_arguments_are_named():
    with pytest.raises(ValueError, match=r"accumulate_counts=True needs class_counts to start from"):
        SoftmaxFocalLoss(seesaw_p=0.8, accumulate_counts=True)
    with pytest.raises(TypeError, match="accumulate_counts must be True or False, got 1"):
        SoftmaxFocalLoss(accumulate_counts=1)
    with pytest.raises(ValueError, match="tau must be a finite real number >= 0, got -0.5"):
        logit_adjustment_offsets([1, 2], tau=-0.5)
    with pytest.raises(ValueError, match=r"background_class must be None or in \[0, 2\), got 2"):
        logit_adjustment_offsets([1, 2], background_class=2)
    with pytest.raises(ValueError, match=r"class_counts must hold finite numbers >= 0, got nan at class 0"):
        logit_adjustment_offsets([float("nan"), 2])


@pytest.mark.skipif(not ops.CUSTOM_OPS, reason="torch without torch.library.custom_op: the loss runs as an "
                    "autograd.Function there (tests/core/test_compiled_step.py skips alike)")
@pytest.mark.parametrize("accumulate", [False, True], ids=["given-counts", "accumulated-counts"])
def test_a_training_step_with_every_term_compiles_to_one_graph(accumulate):
    """Offsets, both Seesaw factors and the in-place count update trace without a graph break
    (fullgraph) and give the eager values and counts."""
    torch.manual_seed(0)
    head = torch.nn.Linear(8, 6)
    features, targets = torch.randn(32, 8), torch.randint(0, 6, (32,))
    targets[::7] = -100

    def build():
        return SoftmaxFocalLoss(reduction="mean_positive", logit_offsets=torch.linspace(-1, 1, 6), seesaw_p=0.8,
                                seesaw_q=2.0, class_counts=[50, 10, 5, 1, 0, 7], accumulate_counts=accumulate)
    eager_loss, compiled_loss = build(), build()
    expected = eager_loss(head(features), targets)
    torch._dynamo.reset()
    step = torch.compile(lambda x, y: compiled_loss(head(x), y), fullgraph=True, backend="eager")
    value = step(features, targets)
    torch.testing.assert_close(value, expected)
    assert torch.equal(compiled_loss.class_counts, eager_loss.class_counts)
