"""Exact resumption (ExactResumeHook in our configs): a run killed with SIGKILL right after its first
checkpoint and resumed with --resume ends with every tensor of the uninterrupted run's final
checkpoint (weights, BatchNorm statistics, optimizer and scheduler state) bitwise equal, on CPU with
one thread per process: epoch-based (the demo RetinaNet, with a loader worker), iteration-based (the
segmentation UNet, with dropout) and on 2 gloo ranks through tools/dist_train.sh. Each case runs
tools/analysis_tools/check_exact_resume.py, which trains the uninterrupted and the killed-and-resumed run."""
import json
import os
import random
import subprocess
import sys
from functools import partial

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import worker_init_fn  # noqa: E402

from imbalanced_losses.openmmlab import ExactResumeHook  # noqa: E402
from tests.tool_runner import CONFIG, ROOT, make_shapes_workspace, run, tool, tool_env  # noqa: E402

SEG_CONFIG = os.path.join(ROOT, "configs", "segmentation", "unet-s4-d8_fcn_softmax-focal_shapes-seg.py")
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """data/shapes (16 train, 8 val images) and data/shapes_seg (the segmentation profile at 5%)."""
    root = make_shapes_workspace(tmp_path_factory.mktemp("resume"))
    run([sys.executable, tool("generate_shapes_dataset.py"), "--profile", "segmentation", "--out", "data/shapes_seg",
         "--scale", "0.05"], cwd=root)
    return root


def check_exact_resume(workspace, name, config, options, nproc=1, port=None):
    out = os.path.join(workspace, f"{name}.json")
    command = [sys.executable, tool("analysis_tools/check_exact_resume.py"), config, "--work-dir", name,
               "--nproc", str(nproc), "--out", out, "--cfg-options", "randomness.deterministic=True", *options]
    env = tool_env(workspace, dict(PORT=str(port)) if port else None)
    result = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    output = result.stdout + result.stderr
    assert os.path.exists(out), output[-5000:]
    comparison = json.load(open(out))
    assert comparison["tensors_compared"] > 100, comparison  # weights, BN statistics, Adam moments
    assert comparison["exact"], comparison
    assert result.returncode == 0, output[-5000:]
    return comparison


def test_epoch_based_run_resumes_exactly(workspace):
    # 16 images at batch 8: 2 iterations per epoch; killed after epoch 1, resumed to the end of epoch 2.
    comparison = check_exact_resume(workspace, "epochs", CONFIG, [
        "train_dataloader.batch_size=8", "train_cfg.max_epochs=2", "default_hooks.checkpoint.interval=1"])
    assert comparison["killed_after"] == "epoch_1.pth"
    assert os.path.basename(comparison["resumed"]) == "epoch_2.pth"


def test_iteration_based_run_resumes_exactly(workspace):
    # Killed after iteration 2's checkpoint, resumed to iteration 4 (mmengine re-loads 2 batches).
    comparison = check_exact_resume(workspace, "iterations", SEG_CONFIG, [
        "train_dataloader.batch_size=4", "train_cfg.max_iters=4", "default_hooks.checkpoint.interval=2"])
    assert comparison["killed_after"] == "iter_2.pth"
    assert os.path.basename(comparison["resumed"]) == "iter_4.pth"


def test_two_rank_run_resumes_exactly(workspace):
    # 16 images over 2 ranks at batch 4: 2 iterations per epoch on each rank.
    comparison = check_exact_resume(workspace, "ranks", CONFIG, [
        "train_dataloader.batch_size=4", "train_cfg.max_epochs=2", "default_hooks.checkpoint.interval=1",
        "model.bbox_head.loss_cls.gather_distributed=True"], nproc=2, port=32500 + os.getpid() % 1000)
    assert comparison["killed_after"] == "epoch_1.pth"


class FakeRunner:
    """What ExactResumeHook reads of mmengine's Runner."""

    def __init__(self, loader, epoch=0, seed=0):
        self.train_dataloader, self.train_loop, self.epoch, self.iter, self.seed = loader, object(), epoch, 0, seed
        self.cfg = Config(dict(randomness=dict(seed=seed)))


class RandomNumbers:
    """A dataset whose items are draws of the worker's numpy, random and torch generators."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return (float(np.random.rand()), random.random(), float(torch.rand(())))


def epoch_draws(epoch, seed=0):
    """The items of one epoch of a one-worker loader, seeded by the hook at ``epoch``."""
    # mmengine's default worker_init_fn, as the Runner builds it: the same seeds every epoch
    loader = torch.utils.data.DataLoader(RandomNumbers(), batch_size=None, num_workers=1,
                                         worker_init_fn=partial(worker_init_fn, num_workers=1, rank=0, seed=seed))
    hook, runner = ExactResumeHook(), FakeRunner(loader, epoch, seed)
    hook.before_train(runner)
    hook.before_train_epoch(runner)
    return [tuple(item) for item in loader]


def test_workers_are_seeded_by_the_epoch_and_the_seed():
    first = epoch_draws(0)
    assert epoch_draws(0) == first  # a resumed run's workers draw what the uninterrupted run's did
    assert len(set(first)) == len(first)
    assert set(epoch_draws(1)).isdisjoint(first)  # but not the same numbers every epoch
    assert set(epoch_draws(0, seed=1)).isdisjoint(first)


def test_persistent_workers_in_an_epoch_based_loop_are_refused():
    loader = torch.utils.data.DataLoader(RandomNumbers(), num_workers=1, persistent_workers=True)
    with pytest.raises(ValueError, match=r"train_dataloader\.persistent_workers=False .* got True"):
        ExactResumeHook().before_train(FakeRunner(loader))


def main_process_draws(runner, step):
    step(runner)
    return float(np.random.rand()), random.random(), float(torch.rand(()))


@pytest.mark.parametrize("position", ["epoch", "iter"])
def test_the_main_process_is_seeded_by_the_position_whatever_came_before(position):
    hook, runner = ExactResumeHook(), FakeRunner(loader=None)
    step = hook.before_train_epoch if position == "epoch" else partial(hook.before_train_iter, batch_idx=0)
    setattr(runner, position, 5)
    first = main_process_draws(runner, step)
    torch.rand(7), np.random.rand(3), random.random()  # another history: a start-up, a validation
    assert main_process_draws(runner, step) == first
    setattr(runner, position, 6)
    assert set(main_process_draws(runner, step)).isdisjoint(first)
