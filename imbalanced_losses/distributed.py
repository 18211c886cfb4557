"""Global-batch normalisation across ranks, communicating statistics only.

Each rank all-reduces two float64 numbers (its loss sum and its count) in one call, so the bytes
sent do not depend on N or C. Every rank must therefore call the loss the same number of times,
as with any collective.

The value returned on every rank is what one process computes on the concatenation of all
ranks' inputs. The gradient assumes the default of ``DistributedDataParallel`` (and of
mmengine's wrapper): gradients are AVERAGED over ranks. Rank r backpropagates
``world_size * local_sum_r / global_count``, so the average over ranks is exactly the gradient
of ``global_sum / global_count``.

Communication goes through ``torch.distributed``'s default process group (``all_reduce``: an
in-place sum over ranks, ``torch.distributed.all_reduce`` unless a caller passes another: the
OpenMMLab adapter passes ``mmengine.dist.all_reduce``, which moves the data to its backend's
communication device, as OpenMMLab users on other accelerators rely on).
"""
import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    """A default process group with more than one rank exists now."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def should_gather(gather_distributed) -> bool:
    """False: off. None or True: on when a process group with more than one rank exists now."""
    return gather_distributed is not False and is_distributed()


def global_reduce(local_sum: Tensor, local_count, all_reduce=None) -> Tensor:
    """Global ``sum`` (local_count None) or ``sum / max(1, count)`` with DDP-averaging gradients;
    ``all_reduce(tensor)`` sums in place over the default group (None: torch.distributed's)."""
    stats = torch.zeros(2, dtype=torch.float64, device=local_sum.device)
    stats[0] = local_sum.detach()
    if local_count is not None:
        stats[1] = local_count
    (all_reduce or dist.all_reduce)(stats)
    world_size = dist.get_world_size()
    denominator = stats[1].clamp_min(1) if local_count is not None else stats.new_ones(())
    global_value = (stats[0] / denominator).to(local_sum.dtype)
    surrogate = local_sum * (world_size / denominator).to(local_sum.dtype)
    # Value: the global one; gradient: that of the surrogate (their difference is a constant).
    return global_value + (surrogate - surrogate.detach())
