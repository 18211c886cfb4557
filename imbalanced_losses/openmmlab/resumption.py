"""``ExactResumeHook``: a run killed and resumed with ``--resume`` ends with the same weights as
one that was never interrupted.

mmengine restores the weights, the optimizer, the schedulers and the sampler's epoch, but not the
random streams: a resumed process's generators go on from wherever its own start-up left them,
and its data-loading workers start afresh, while an uninterrupted run's persistent workers carry
their state from epoch to epoch (mmengine's ``worker_init_fn`` seeds them from the seed, rank and
worker id only, the same every epoch). This hook makes every stream a function of the position
in training, so nothing has to be saved in the checkpoint:

- before each epoch: the main process's ``random``, ``numpy`` and ``torch`` generators from
  (seed, epoch), and the train loader's own generator from (seed, epoch, rank). The workers started
  for the epoch are seeded by torch from it (``random``, ``numpy`` and ``torch`` from ``base_seed +
  worker id``), which mmengine's default ``worker_init_fn`` no longer overwrites;
- before each iteration: the main process's generators from (seed, iteration) (dropout, RoI
  samplers), so an iteration-based run resumed at any checkpoint replays them too.

Exact at every epoch-based checkpoint (mmengine restarts a partly done epoch from its start) and
at every iteration-based one (mmengine re-loads the skipped batches). An epoch-based loop needs
``train_dataloader.persistent_workers=False``: persistent workers keep their random state across
epochs, which no checkpoint can restore (the hook raises otherwise). Not exact across a change of
the number of processes (the sampler splits the data by rank) or of ``num_workers``.

A config adds it with ``custom_hooks = [dict(type='ExactResumeHook')]`` (registered in mmengine's
root ``HOOKS``, found by mmdet and mmseg); ``docs/guides/tools.md`` ("Resuming") says what is exact.
"""
import warnings
from functools import partial

import numpy as np
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop, set_random_seed

# Which stream a derived seed is for: the same (seed, n) gives unrelated seeds for each.
EPOCH_STREAM, DATA_STREAM, ITERATION_STREAM = 0, 1, 2


def derived_seed(seed, stream, position, rank=0):
    """A 32-bit seed for ``stream`` at ``position`` (an epoch or an iteration), from the run's seed."""
    return int(np.random.SeedSequence([seed, stream, position, rank]).generate_state(1)[0])


def keep_torch_worker_seeds(worker_id, disable_subprocess_warning=False):
    """A loader ``worker_init_fn`` that keeps the seeds torch gave the worker (``random``, ``numpy``
    and ``torch`` from the loader's generator and the worker id)."""
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter("ignore")


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Seeds the main process per epoch and per iteration, and the train loader's workers per
    epoch and rank, from the run's seed (this module's docstring says why and what is exact)."""

    priority = "VERY_HIGH"  # before any hook that draws random numbers at the same point

    def __init__(self):
        self.data_generator = torch.Generator()

    def before_train(self, runner):
        loader = runner.train_dataloader
        if (not isinstance(runner.train_loop, IterBasedTrainLoop) and loader.num_workers > 0
                and loader.persistent_workers):
            raise ValueError(
                "ExactResumeHook needs train_dataloader.persistent_workers=False in an epoch-based loop, got True: "
                "persistent workers carry their random state from epoch to epoch, which a resumed run cannot "
                "restore (without them the workers restart every epoch, seeded from the epoch)")
        if runner.cfg.get("randomness", {}).get("seed") is None:
            print_log("ExactResumeHook: randomness.seed is not set, so a resumed run shuffles with a sampler seed "
                      "of its own; set randomness.seed for an exact resume", logger="current", level="WARNING")
        init_fn = loader.worker_init_fn
        if isinstance(init_fn, partial) and init_fn.func is mmengine_worker_init_fn:
            loader.worker_init_fn = partial(
                keep_torch_worker_seeds,
                disable_subprocess_warning=init_fn.keywords.get("disable_subprocess_warning", False))
        elif init_fn is not None:
            print_log(f"ExactResumeHook: the train loader's worker_init_fn {init_fn!r} is kept; the resume is exact "
                      "only if it seeds the workers from torch.initial_seed()", logger="current", level="WARNING")
        loader.generator = self.data_generator  # its draws become the workers' base seeds

    def before_train_epoch(self, runner):
        set_random_seed(derived_seed(runner.seed, EPOCH_STREAM, runner.epoch))  # leaves the deterministic flags
        self.data_generator.manual_seed(derived_seed(runner.seed, DATA_STREAM, runner.epoch, get_rank()))

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        set_random_seed(derived_seed(runner.seed, ITERATION_STREAM, runner.iter))
