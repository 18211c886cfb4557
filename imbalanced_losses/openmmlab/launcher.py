"""``--launcher pytorch`` (torchrun) on machines without CUDA, for mmengine's Runner.

mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and its default DDP wrapper
passes ``device_ids=[local_rank]``; both fail on CPU, so mmdet's and mmseg's own ``tools/train.py
--launcher pytorch`` cannot start there. ``setup_launcher`` creates the gloo process group itself
(the Runner then skips ``init_dist``) and configures the wrapper with ``device_ids=None``; on CUDA it
only sets ``cfg.launcher``. Our ``tools/train.py`` and ``tools/test.py`` call it; a script of one's
own calls it on the config before ``Runner.from_cfg(cfg)``::

    from imbalanced_losses.openmmlab.launcher import setup_launcher
    setup_launcher(cfg, "pytorch")  # under torchrun
"""
import datetime

import torch
import torch.distributed as dist


def setup_launcher(cfg, launcher):
    """Set ``cfg.launcher`` and make the 'pytorch' launcher (torchrun) work on CPU-only machines."""
    cfg.launcher = launcher
    if launcher == "none" or torch.cuda.is_available():
        return
    if launcher != "pytorch":
        raise ValueError(f"--launcher {launcher} needs CUDA (mmengine's init_dist calls torch.cuda.set_device); "
                         "without CUDA use --launcher pytorch through tools/dist_train.sh (torchrun)")
    env_cfg = dict(cfg.get("env_cfg") or {})
    env_cfg["dist_cfg"] = dict(env_cfg.get("dist_cfg") or {}, backend="gloo")
    cfg.env_cfg = env_cfg  # (a config without env_cfg gets one: setdefault on a Config returns a copy)
    if not dist.is_initialized():
        timeout = datetime.timedelta(seconds=cfg.env_cfg.dist_cfg.get("timeout", 1800))
        dist.init_process_group(backend="gloo", timeout=timeout)  # env:// variables from torchrun
    wrapper = dict(cfg.get("model_wrapper_cfg") or {})
    wrapper.setdefault("type", "MMDistributedDataParallel")
    wrapper.setdefault("broadcast_buffers", False)
    wrapper.setdefault("find_unused_parameters", cfg.get("find_unused_parameters", False))
    wrapper["device_ids"] = None  # DDP over CPU modules
    cfg.model_wrapper_cfg = wrapper
