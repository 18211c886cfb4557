"""A training step with the loss inside under ``torch.compile``: one graph and no graph break
(the loss is two custom ops the compiler sees as one node each, loss_op.py), the values and
gradients of the uncompiled step, bad targets still named, no recompile for other shapes; and
``torch.library.opcheck`` on both ops."""

import dataclasses

import pytest
import torch
from torch import nn

from imbalanced_losses import SoftmaxFocalLoss, loss_op, raise_deferred_errors, softmax_focal_loss
from imbalanced_losses.class_factors import ClassFactors
from imbalanced_losses.kernels import select
from imbalanced_losses.kernels.eager import EagerSaved
from imbalanced_losses.kernels.interface import SAVED_PLANES
from imbalanced_losses.options import OPTION_NAMES, LossOptions
from tests.cases import ALL_BACKENDS, NAMED_BACKENDS, REDUCTIONS, SCALAR_REDUCTIONS, TRITON_DEVICE, needs_triton
from tests.tolerances import assert_close_reordered

pytestmark = pytest.mark.skipif(not loss_op.CUSTOM_OPS, reason="torch without torch.library.custom_op: "
                                "the loss runs as an autograd.Function there")
C = 6
# The backends dynamo traces on CPU (Triton's interpreter is not traced; its CUDA step is below).
BACKENDS = [b for b in NAMED_BACKENDS if b != "triton"]


def make_case(spatial, n=24, seed=0):
    """A head (Linear over features, or a 1x1 conv over an image) and its targets with 255 ignored."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if spatial:
        head = nn.Conv2d(4, C, 1)
        features = torch.randn(2, 4, n // 4, 5, generator=gen)
        targets = torch.randint(0, C, (2, n // 4, 5), generator=gen)
    else:
        head = nn.Linear(4, C)
        features = torch.randn(n, 4, generator=gen)
        targets = torch.randint(0, C, (n,), generator=gen)
    targets[torch.rand(targets.shape, generator=gen) < 0.2] = 255
    weight = torch.rand(targets.shape, generator=gen) * 2
    return head, features, targets, weight


OPTIONS = dict(alpha=[0.75, 0.25, 0.5, 1.0, 0.3, 0.6], gamma=2.0, label_smoothing=0.1, ignore_index=255,
               background_class=0)


def step_fn(form, backend, reduction):
    if form == "module":
        loss_fn = SoftmaxFocalLoss(reduction=reduction, backend=backend, **OPTIONS)

        def step(head, features, targets, weight):
            loss = loss_fn(head(features), targets)
            return loss.sum() if reduction == "none" else loss
    else:
        def step(head, features, targets, weight):
            loss = softmax_focal_loss(head(features), targets, reduction=reduction, weight=weight, backend=backend,
                                      **OPTIONS)
            return loss.sum() if reduction == "none" else loss
    return step


def value_and_grads(step, head, *args):
    head.zero_grad()
    value = step(head, *args)
    value.backward()
    return value.detach(), [p.grad.clone() for p in head.parameters()]


def assert_compiled_equals_eager(compiled, step, *args):
    """The compiled step's value and gradients are the uncompiled step's (float32, another order)."""
    expected_value, expected_grads = value_and_grads(step, *args)
    value, grads = value_and_grads(compiled, *args)
    assert_close_reordered(value, expected_value)
    for grad, expected in zip(grads, expected_grads):
        assert_close_reordered(grad, expected)


@pytest.mark.parametrize("spatial", [False, True], ids=["N,C", "N,C,H,W"])
@pytest.mark.parametrize("form", ["module", "functional"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_step_has_one_graph_and_the_eager_values(backend, reduction, form, spatial):
    head, features, targets, weight = make_case(spatial)
    step = step_fn(form, backend, reduction)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(step)(head, features, targets, weight)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
    # aot_eager: AOTAutograd traces forward and backward through the fake and autograd registrations
    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    assert_compiled_equals_eager(compiled, step, head, features, targets, weight)


@pytest.mark.parametrize("backend", BACKENDS)
def test_inductor_compiled_step_equals_eager(backend):
    head, features, targets, _ = make_case(False, n=64)
    step = step_fn("module", backend, "mean_positive")
    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True)
    assert_compiled_equals_eager(compiled, step, head, features, targets, None)


@pytest.mark.parametrize("form", ["module", "functional"])
def test_a_bad_target_under_compile_still_names_it(form):
    head, features, targets, weight = make_case(False)
    compiled = torch.compile(step_fn(form, "eager", "mean"), fullgraph=True, backend="aot_eager")
    torch._dynamo.reset()
    compiled(head, features, targets, weight)
    targets[3] = 17
    with pytest.raises(ValueError, match=r"targets must be in \[0, 6\) or equal ignore_index=255, got 17"):
        compiled(head, features, targets, weight)


def test_bad_alpha_of_the_functional_form_under_compile_names_it():
    head, features, targets, _ = make_case(False)

    def step(head, features, targets):
        return softmax_focal_loss(head(features), targets, alpha=torch.tensor([1.0, -0.5, 1, 1, 1, 1]),
                                  ignore_index=255)
    torch._dynamo.reset()
    with pytest.raises(ValueError, match="alpha must be non-negative"):
        torch.compile(step, fullgraph=True, backend="aot_eager")(head, features, targets)


@pytest.mark.parametrize("spatial", [False, True], ids=["anchors", "image_size"])
def test_other_sizes_do_not_recompile(spatial):
    """A detector's anchor count and a segmentor's image size change every batch."""
    from torch._dynamo.testing import CompileCounterWithBackend
    counter = CompileCounterWithBackend("aot_eager")
    step = step_fn("module", "eager", "mean_positive")
    compiled = torch.compile(step, fullgraph=True, backend=counter, dynamic=True)
    torch._dynamo.reset()
    head = make_case(spatial)[0]  # one model, batches of other sizes
    compiles = []
    for n in (24, 40, 64, 100):
        _, features, targets, weight = make_case(spatial, n=n, seed=n)
        value, _ = value_and_grads(compiled, head, features, targets, weight)
        assert_close_reordered(value, value_and_grads(step, head, features, targets, weight)[0])
        compiles.append(counter.frame_count)
    assert compiles[0] > 0 and compiles == compiles[:1] * 4, compiles  # all compiled at the first size


@pytest.mark.parametrize("reduction", SCALAR_REDUCTIONS)
def test_gather_distributed_on_a_one_rank_group_compiles_to_one_graph(one_rank_group, reduction):
    head, features, targets, _ = make_case(False)
    loss_fn = SoftmaxFocalLoss(reduction=reduction, gather_distributed=True, **OPTIONS)

    def step(head, features, targets):
        return loss_fn(head(features), targets)
    torch._dynamo.reset()
    explained = torch._dynamo.explain(step)(head, features, targets)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
    value, grads = value_and_grads(torch.compile(step, fullgraph=True, backend="aot_eager"), head, features, targets)
    expected_value, expected_grads = value_and_grads(step, head, features, targets)
    assert_close_reordered(value, expected_value)
    for grad, expected in zip(grads, expected_grads):
        assert_close_reordered(grad, expected)


def opcheck_cases():
    gen = torch.Generator().manual_seed(0)
    for backend in NAMED_BACKENDS:
        dtype = torch.float32 if backend == "triton" else torch.float64  # Triton computes in float32
        for shape, reduction, with_grad, with_alpha, with_weight, smoothing in [
                ((7, 5), "mean_positive", True, True, False, 0.1), ((2, 5, 3, 4), "none", True, False, True, 0.0),
                ((7, 5), "none", False, True, True, 0.2), ((2, 5, 3), "sum", True, False, False, 0.0)]:
            logits = torch.randn(shape, generator=gen, dtype=dtype, requires_grad=with_grad)
            targets = torch.randint(0, 5, shape[:1] + shape[2:], generator=gen)
            targets.view(-1)[0] = -100
            alpha = torch.rand(5, generator=gen, dtype=dtype) if with_alpha else None
            weight = torch.rand(targets.shape, generator=gen, dtype=dtype) if with_weight else None
            options = LossOptions(reduction=reduction, label_smoothing=smoothing, backend=backend)
            case = (logits, targets, alpha, weight, options, with_alpha, with_grad)
            yield pytest.param(case, marks=needs_triton) if backend == "triton" else case


@pytest.mark.parametrize("case", list(opcheck_cases()),
                         ids=lambda c: f"{c[4].backend}-{tuple(c[0].shape)}-{c[4].reduction}")
def test_opcheck_forward_and_backward(case):
    logits, targets, alpha, weight, options, check_alpha, with_grad = case
    if options.backend == "triton":
        logits, targets, alpha, weight = (None if t is None else t.to(TRITON_DEVICE)
                                          for t in (logits, targets, alpha, weight))
        logits = logits.detach().requires_grad_(with_grad)
    factors = ClassFactors(alpha, checked=not check_alpha)
    args = loss_op.forward_op_arguments(logits, targets, factors, weight, options, with_grad)
    torch.library.opcheck(torch.ops.imbalanced_losses.focal_forward.default, args)
    if with_grad:
        _, _, saved = torch.ops.imbalanced_losses.focal_forward(*args)
        grad_loss = torch.rand(() if options.reduction != "none" else targets.shape, dtype=logits.dtype,
                               device=logits.device)
        torch.library.opcheck(torch.ops.imbalanced_losses.focal_backward.default,
                              (logits.detach(), targets, saved, grad_loss) + options.values())


def test_every_option_crosses_the_custom_ops_boundary_unchanged(monkeypatch):
    """The ops' schemas carry every ``LossOptions`` field by name, and what the backend receives
    inside them equals what the caller passed, for values off every default."""
    forward = torch.ops.imbalanced_losses.focal_forward.default._schema
    backward = torch.ops.imbalanced_losses.focal_backward.default._schema
    assert tuple(a.name for a in forward.arguments)[-len(OPTION_NAMES):] == OPTION_NAMES
    assert tuple(a.name for a in backward.arguments)[-len(OPTION_NAMES):] == OPTION_NAMES
    options = LossOptions(gamma=0.5, reduction="sum", label_smoothing=0.25, ignore_index=3, background_class=2,
                          gather_distributed=False, backend="eager", sync_checks=True)
    assert all(getattr(options, f.name) != f.default for f in dataclasses.fields(LossOptions))
    received = []

    class RecordingEager(type(select("eager", torch.empty(0)))):
        def compute_forward(self, logits, targets, factors, weight, options, reduce, with_grad):
            received.append(options)
            received.append(factors)
            return super().compute_forward(logits, targets, factors, weight, options, reduce, with_grad)

        def compute_backward(self, logits, targets, saved, grad_loss, options):
            received.append(options)
            return super().compute_backward(logits, targets, saved, grad_loss, options)
    monkeypatch.setattr(loss_op, "select", lambda backend, logits: RecordingEager())
    logits = torch.randn(6, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 1, 2, 3, 4, 1])
    alpha = torch.tensor([0.5, 1.0, 2.0, 1.0, 0.25], dtype=torch.float64)
    loss, _, _ = torch.ops.imbalanced_losses.focal_forward(
        *loss_op.forward_op_arguments(logits, targets, ClassFactors(alpha, checked=False), None, options, True))
    loss.backward()
    assert received[0] == options and received[2] == options
    # The per-class factors cross by their fields too: the same values, on the device and dtype of the loss
    assert torch.equal(received[1].alpha, alpha) and received[1].checked is False


def test_the_custom_ops_schema_and_fake_follow_the_carriers_and_the_contract():
    """The forward op's parameters are the call's tensors, ``ClassFactors``' fields, the weight and
    the gradient flag, then ``LossOptions``' fields; its fake returns the contract's saved planes."""
    forward = torch.ops.imbalanced_losses.focal_forward.default._schema
    names = tuple(a.name for a in forward.arguments)
    assert names[:loss_op._OPTIONS_START] == ("logits", "targets") + ClassFactors._fields + ("weight", "with_grad")
    assert names[loss_op._OPTIONS_START:] == OPTION_NAMES
    logits, targets = torch.randn(3, 4, 5, device="meta"), torch.zeros(3, 5, dtype=torch.long, device="meta")
    options = LossOptions(reduction="none")
    loss, counts, saved = loss_op._focal_forward_fake(
        *loss_op.forward_op_arguments(logits, targets, ClassFactors(), None, options, True))
    assert loss.shape == (3, 5) and counts.shape == (2,) and saved.shape == (SAVED_PLANES, 3, 5)
    assert len(EagerSaved._fields) == SAVED_PLANES


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_autograd_function_path_gives_the_custom_ops_values(monkeypatch, backend):
    """Outside torch.compile (and on torch without custom_op, the floor 2.1) the same forward and
    backward run in an autograd.Function: both paths, the same numbers."""
    head, features, targets, weight = make_case(True)
    step = step_fn("functional", backend, "mean_positive")
    results = {}
    for through_ops in (True, False):
        monkeypatch.setattr(loss_op, "through_custom_ops", lambda through=through_ops: through)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            results[through_ops] = value_and_grads(step, head, features, targets, weight)
        names = {event.name for event in profile.events()}
        assert ("imbalanced_losses::focal_forward" in names) == through_ops
        assert ("imbalanced_losses::focal_backward" in names) == through_ops
    (value, grads), (expected_value, expected_grads) = results[False], results[True]
    torch.testing.assert_close(value, expected_value, rtol=0, atol=0)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("spatial", [False, True], ids=["N,C", "N,C,H,W"])
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_cuda_compiled_step_has_one_graph_and_the_eager_values(backend, spatial):
    head, features, targets, weight = make_case(spatial, n=64)
    head, features, targets, weight = head.cuda(), features.cuda(), targets.cuda(), weight.cuda()
    step = step_fn("functional", backend, "mean_positive")
    torch._dynamo.reset()
    explained = torch._dynamo.explain(step)(head, features, targets, weight)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), explained.break_reasons
    compiled = torch.compile(step, fullgraph=True)
    assert_compiled_equals_eager(compiled, step, head, features, targets, weight)
    targets[3] = 17  # deferred on CUDA: computed as ignored, named at the next check
    value_and_grads(compiled, head, features, targets, weight)
    with pytest.raises(ValueError, match="got 17 in an earlier call on cuda"):
        raise_deferred_errors()
