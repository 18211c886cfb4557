"""CUDA graphs (skipped without a CUDA device): ``torch.compile(mode='reduce-overhead')`` and a
manual ``torch.cuda.graph`` capture of forward + backward replay exactly what eager computes, for
every backend, and a bad target inside a replayed graph is still reported (the deferred checks
record only device-side flag writes while capturing: checks/device.py)."""
import pytest
import torch

from imbalanced_losses import SoftmaxFocalLoss, raise_deferred_errors
from tests.cases import NAMED_BACKENDS
from tests.tolerances import assert_close_reordered

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
N, FEATURES, C = 4096, 32, 81


def _model_and_loss(backend):
    torch.manual_seed(0)
    model = torch.nn.Linear(FEATURES, C).cuda()
    alpha = torch.full((C,), 0.25)
    alpha[0] = 0.75
    loss_fn = SoftmaxFocalLoss(alpha=alpha, gamma=2.0, label_smoothing=0.1, reduction="mean_positive",
                               backend=backend).cuda()
    return model, loss_fn


def _batch(seed, bad_at=None):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(N, FEATURES, generator=gen)
    t = torch.randint(0, C, (N,), generator=gen)
    t[torch.rand(N, generator=gen) < 0.05] = -100
    if bad_at is not None:
        t[bad_at] = C
    return x.cuda(), t.cuda()


def _eager_step(model, loss_fn, x, t):
    model.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), t)
    loss.backward()
    return loss.detach().clone(), [p.grad.clone() for p in model.parameters()]


def _assert_same(result, expected):
    assert_close_reordered(result[0], expected[0])
    for grad, grad_expected in zip(result[1], expected[1]):
        assert_close_reordered(grad, grad_expected)


@pytest.fixture(autouse=True)
def no_flags_left():
    yield
    try:
        raise_deferred_errors()
    except ValueError:
        pass


@pytest.mark.parametrize("backend", NAMED_BACKENDS)
def test_reduce_overhead_replays_eager_values_and_reports_a_bad_target(backend):
    model, loss_fn = _model_and_loss(backend)
    compiled = torch.compile(lambda x, t: loss_fn(model(x), t), mode="reduce-overhead", fullgraph=True)

    def compiled_step(x, t):
        model.zero_grad(set_to_none=True)
        loss = compiled(x, t)
        loss.backward()
        return loss.detach().clone(), [p.grad.clone() for p in model.parameters()]

    for seed in range(4):  # the first calls warm up and record, the later ones replay
        x, t = _batch(seed)
        _assert_same(compiled_step(x, t), _eager_step(model, loss_fn, x, t))
    raise_deferred_errors()  # nothing flagged
    x, t = _batch(9, bad_at=17)
    compiled_step(x, t)  # a replay: the target is computed as ignored and flagged on the device
    with pytest.raises(ValueError, match=f"got {C} in an earlier call on cuda"):
        raise_deferred_errors()


@pytest.mark.parametrize("backend", NAMED_BACKENDS)
def test_manual_cuda_graph_capture_replays_forward_and_backward(backend):
    model, loss_fn = _model_and_loss(backend)
    static_x, static_t = _batch(0)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the graph: autotuning, compilation, the flags' buffers
        for _ in range(3):
            _eager_step(model, loss_fn, static_x, static_t)
    torch.cuda.current_stream().wait_stream(side)
    model.zero_grad(set_to_none=True)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = loss_fn(model(static_x), static_t)
        static_loss.backward()
    static_grads = [p.grad for p in model.parameters()]

    for seed in (1, 2, 3):
        x, t = _batch(seed)
        static_x.copy_(x)
        static_t.copy_(t)
        graph.replay()
        replayed = static_loss.clone(), [g.clone() for g in static_grads]
        # the graph's backward writes the gradients afresh (they were None at capture)
        _assert_same(replayed, _eager_step(model, loss_fn, x, t))
    raise_deferred_errors()  # nothing flagged

    x, t = _batch(4, bad_at=5)
    static_x.copy_(x)
    static_t.copy_(t)
    graph.replay()
    ignored = t.clone()
    ignored[5] = -100
    torch.testing.assert_close(static_loss, _eager_step(model, loss_fn, x, ignored)[0])  # computed as ignored
    with pytest.raises(ValueError, match=f"got {C} in an earlier call on cuda"):
        raise_deferred_errors()
