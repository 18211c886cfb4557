"""gather_distributed under DDP: 2 gloo ranks on CPU against one process on the concatenated inputs."""
import socket

import pytest
import torch
import torch.multiprocessing as mp

from imbalanced_losses import SoftmaxFocalLoss
from tests import ddp_worker
from tests.cases import SCALAR_REDUCTIONS
from tests.tolerances import approx_reordered, assert_close_reordered

WORLD_SIZE = 2
TIMEOUT_S = 300  # compile and Triton-interpreter paths in every rank; a hang still fails


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("ddp")
    context = mp.start_processes(ddp_worker.main, args=(WORLD_SIZE, free_port(), str(out_dir)),
                                 nprocs=WORLD_SIZE, join=False, start_method="spawn")
    try:
        # join() returns False while ranks run; a timeout fails the test instead of hanging it.
        import time
        deadline = time.monotonic() + TIMEOUT_S
        while not context.join(timeout=5):
            if time.monotonic() > deadline:
                pytest.fail(f"DDP ranks did not finish within {TIMEOUT_S} s")
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
    return [torch.load(out_dir / f"rank{r}.pt") for r in range(WORLD_SIZE)]


def single_process(case, reduction):
    """Loss and gradients of one process on all ranks' positions concatenated."""
    model = ddp_worker.make_model()
    logits, targets = [], []
    for rank in range(WORLD_SIZE):
        features, rank_targets = ddp_worker.rank_inputs(case, rank)
        logits.append(ddp_worker.logits_of(model, features).movedim(1, -1).reshape(-1, ddp_worker.NUM_CLASSES))
        targets.append(rank_targets.reshape(-1))
    loss_fn = SoftmaxFocalLoss(reduction=reduction, gather_distributed=False, **ddp_worker.LOSS_OPTIONS)
    loss = loss_fn(torch.cat(logits), torch.cat(targets))
    loss.backward()
    return loss.item(), {n: p.grad for n, p in model.named_parameters()}


PARAMS = [(case, reduction) for case in ddp_worker.CASES for reduction in SCALAR_REDUCTIONS]
# "ours": the core (torch.distributed); "compiled" / "triton": the same with backend='compile' /
# 'triton'; "mmengine": the registered OpenMMLab loss (mmengine.dist)
PATHS = [path for path in ("ours", "compiled", "triton", "mmengine") if path in ddp_worker.METHODS]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case,reduction", PARAMS)
def test_value_and_gradients_equal_single_process(rank_results, case, reduction, path):
    value, grads = single_process(case, reduction)
    for results in rank_results:
        ours = results[(case, reduction, path)]
        assert ours["value"] == approx_reordered(value)
        for name, grad in grads.items():  # two ranks' partial sums against one process's: another order
            assert_close_reordered(ours["grads"][name], grad)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case,reduction", PARAMS)
def test_communication_is_one_small_all_reduce(rank_results, case, reduction, path):
    for results in rank_results:
        assert results[(case, reduction, path)]["bytes"] == [16]  # 2 float64, whatever N and C
        assert results[(case, "none", "ours")]["bytes"] == []
        # the OpenMMLab path goes through mmengine.dist (its communication device); the core does not
        assert results[(case, reduction, path)]["mmengine_bytes"] == ([16] if path == "mmengine" else [])


def test_gathering_logits_gets_gradients_world_size_times_too_small(rank_results):
    """The all-gather-logits approach returns the right value but, since DDP averages gradients,
    1/world_size of the right gradient; the comparison above would catch that bug in ours."""
    value, grads = single_process("uneven_batches", "mean_positive")
    gathered = rank_results[0][("uneven_batches", "mean_positive", "gather_logits")]
    assert gathered["value"] == approx_reordered(value)
    assert_close_reordered(gathered["grads"]["weight"] * WORLD_SIZE, grads["weight"])
    assert not torch.allclose(gathered["grads"]["weight"], grads["weight"], rtol=1e-3)


def test_local_normalisation_differs_from_global(rank_results):
    """Without gathering, uneven positives give each rank its own scale (what the option fixes)."""
    value, _ = single_process("rank_without_positives", "mean_positive")
    local = [r[("rank_without_positives", "mean_positive", "local")]["value"] for r in rank_results]
    assert local[0] != pytest.approx(local[1], rel=1e-3)
    assert all(v != pytest.approx(value, rel=1e-3) for v in local)
