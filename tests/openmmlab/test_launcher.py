"""``imbalanced_losses.openmmlab.launcher.setup_launcher``: what our tools (and a user's own script)
call so that ``--launcher pytorch`` runs without CUDA (the 2-rank torchrun runs are in tests/tools)."""
import pytest
import torch

pytest.importorskip("mmengine")
from mmengine.config import Config  # noqa: E402

from imbalanced_losses.openmmlab.launcher import setup_launcher  # noqa: E402

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU path (on CUDA it only sets the launcher)")


def test_none_changes_nothing_but_the_launcher():
    cfg = Config(dict(model=dict(type="x")))
    setup_launcher(cfg, "none")
    assert cfg.launcher == "none" and "model_wrapper_cfg" not in cfg


def test_a_launcher_that_needs_cuda_says_which_one_works():
    with pytest.raises(ValueError, match=r"--launcher slurm needs CUDA .*--launcher pytorch"):
        setup_launcher(Config(dict()), "slurm")


def test_pytorch_on_cpu_takes_gloo_and_ddp_without_device_ids(one_rank_group):
    cfg = Config(dict(model_wrapper_cfg=dict(find_unused_parameters=True)))
    setup_launcher(cfg, "pytorch")  # the group exists (torchrun's would be created here)
    assert cfg.env_cfg.dist_cfg.backend == "gloo"
    assert cfg.model_wrapper_cfg == dict(type="MMDistributedDataParallel", broadcast_buffers=False,
                                         find_unused_parameters=True, device_ids=None)
