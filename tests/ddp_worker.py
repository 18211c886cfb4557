"""Runs inside each spawned rank of tests/core/test_distributed.py (gloo, CPU)."""
import datetime
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from imbalanced_losses import SoftmaxFocalLoss
from tests.cases import SCALAR_REDUCTIONS

try:  # the OpenMMLab path: the registered loss, under the same process group
    from mmengine.registry import MODELS as MMENGINE_MODELS

    import imbalanced_losses.openmmlab  # noqa: F401  (registers SoftmaxFocalLoss)
except ImportError:
    MMENGINE_MODELS = None
try:  # backend='triton' on CPU tensors: Triton's interpreter (TRITON_INTERPRET=1, inherited from conftest.py)
    from imbalanced_losses.kernels import triton_focal
    TRITON = [] if triton_focal.not_supported_reasons(torch.empty(1, 2)) else ["triton"]
except Exception:  # noqa: BLE001 - not installed, or a Triton too old to import our kernels
    TRITON = []
METHODS = (["ours", "compiled"] + TRITON + ["gather_logits", "local"]
           + (["mmengine"] if MMENGINE_MODELS is not None else []))

NUM_FEATURES, NUM_CLASSES = 5, 4
LOSS_OPTIONS = dict(gamma=1.5, alpha=[0.75, 0.25, 0.5, 1.0], label_smoothing=0.1, background_class=0)

# Per case, per rank: (batch shape, how targets are drawn). Spatial sizes may differ across ranks.
CASES = {
    "uneven_batches": [((7,), "mixed"), ((3,), "mixed")],
    "uneven_spatial": [((2, 3, 4), "mixed"), ((3, 5, 2), "mixed")],
    "rank_without_positives": [((6,), "mixed"), ((9,), "background")],
    "empty_rank": [((8, 2), "mixed"), ((0, 2), "mixed")],
}


def make_model():
    torch.manual_seed(0)
    return nn.Linear(NUM_FEATURES, NUM_CLASSES)


def rank_inputs(case, rank):
    shape, kind = CASES[case][rank]
    gen = torch.Generator().manual_seed(100 * rank + len(case))
    features = torch.randn(shape + (NUM_FEATURES,), generator=gen)
    if kind == "background":
        targets = torch.zeros(shape, dtype=torch.long)
    else:
        targets = torch.randint(0, NUM_CLASSES, shape, generator=gen)
    targets[torch.rand(shape, generator=gen) < 0.15] = -100
    return features, targets


def logits_of(model, features):
    return model(features).movedim(-1, 1)  # (N, *S, C) -> (N, C, *S)


def gather_logits_loss(logits, targets, reduction):
    """The reference library's approach: all-gather logits, graph only through the local slice."""
    world, rank = dist.get_world_size(), dist.get_rank()
    flat = logits.movedim(1, -1).reshape(-1, NUM_CLASSES)
    flat_targets = targets.reshape(-1)
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(world)]
    dist.all_gather(sizes, torch.tensor([len(flat)]))
    longest = int(max(s.item() for s in sizes))

    def pad(t, value):
        return torch.cat([t, t.new_full((longest - len(t),) + t.shape[1:], value)])

    gathered = [torch.zeros(longest, NUM_CLASSES) for _ in range(world)]
    gathered_targets = [torch.zeros(longest, dtype=torch.long) for _ in range(world)]
    dist.all_gather(gathered, pad(flat.detach(), 0.0))
    dist.all_gather(gathered_targets, pad(flat_targets, -100))
    gathered[rank] = pad(flat, 0.0)
    loss_fn = SoftmaxFocalLoss(reduction=reduction, gather_distributed=False, **LOSS_OPTIONS)
    return loss_fn(torch.cat(gathered), torch.cat(gathered_targets))


def main(rank, world_size, port, out_dir):
    loss_fns = {r: SoftmaxFocalLoss(reduction=r, **LOSS_OPTIONS) for r in SCALAR_REDUCTIONS}  # before init: None
    loss_fns["none"] = SoftmaxFocalLoss(reduction="none", **LOSS_OPTIONS)
    backend_fns = {(backend, r): SoftmaxFocalLoss(reduction=r, backend=backend, **LOSS_OPTIONS)
                   for r in SCALAR_REDUCTIONS for backend in ["compile"] + TRITON}
    if MMENGINE_MODELS is not None:
        mm_loss_fns = {r: MMENGINE_MODELS.build(dict(type="SoftmaxFocalLoss", reduction=r, **LOSS_OPTIONS))
                       for r in SCALAR_REDUCTIONS}
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=60))
    calls, mmengine_calls = [], []
    real_all_reduce = dist.all_reduce

    def counting_all_reduce(tensor, *args, **kwargs):
        calls.append(tensor.numel() * tensor.element_size())
        return real_all_reduce(tensor, *args, **kwargs)

    if MMENGINE_MODELS is not None:  # the OpenMMLab path's seam: mmengine.dist.all_reduce, counted too
        import mmengine.dist
        real_mmengine_all_reduce = mmengine.dist.all_reduce

        def counting_mmengine_all_reduce(data, *args, **kwargs):
            mmengine_calls.append(data.numel() * data.element_size())
            return real_mmengine_all_reduce(data, *args, **kwargs)
        mmengine.dist.all_reduce = counting_mmengine_all_reduce

    results = {}
    for case in CASES:
        features, targets = rank_inputs(case, rank)
        for reduction in SCALAR_REDUCTIONS:
            for method in METHODS:
                model = DistributedDataParallel(make_model())
                logits = logits_of(model, features)
                calls.clear()
                mmengine_calls.clear()
                dist.all_reduce = counting_all_reduce
                try:
                    if method == "ours":
                        loss = loss_fns[reduction](logits, targets)
                    elif method in ("compiled", "triton"):
                        backend = "compile" if method == "compiled" else "triton"
                        loss = backend_fns[(backend, reduction)](logits, targets)
                    elif method == "mmengine":
                        loss = mm_loss_fns[reduction](logits, targets)
                    elif method == "local":
                        loss = SoftmaxFocalLoss(reduction=reduction, gather_distributed=False,
                                                **LOSS_OPTIONS)(logits, targets)
                    else:
                        loss = gather_logits_loss(logits, targets, reduction)
                finally:
                    dist.all_reduce = real_all_reduce
                loss.backward()
                results[(case, reduction, method)] = dict(
                    value=loss.item(), bytes=list(calls), mmengine_bytes=list(mmengine_calls),
                    grads={n: p.grad.clone() for n, p in model.module.named_parameters()})
        calls.clear()
        dist.all_reduce = counting_all_reduce
        loss_fns["none"](logits_of(make_model(), features), targets)
        dist.all_reduce = real_all_reduce
        results[(case, "none", "ours")] = dict(bytes=list(calls))
    torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()
