"""Fixtures every area shares. The helper modules beside this file (cases, reference, tolerances,
paths, tool_runner, ddp_worker) are imported as ``tests.<name>``: setup.cfg's ``pythonpath = .``
puts the repository root on the path (tests/ is a package)."""
import datetime
import os

import pytest
import torch
import torch.distributed as dist

if not torch.cuda.is_available():
    # backend='triton' then runs its kernels in Triton's interpreter on CPU tensors (set before
    # the kernels are decorated, i.e. before imbalanced_losses.kernels.triton_focal is imported).
    os.environ.setdefault("TRITON_INTERPRET", "1")


@pytest.fixture
def one_rank_group(tmp_path):
    """A 1-rank gloo process group (what a 1-GPU torchrun run has), destroyed afterwards."""
    if dist.is_initialized():
        pytest.skip("a process group exists already")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1,
                            timeout=datetime.timedelta(seconds=60))
    try:
        yield
    finally:
        dist.destroy_process_group()
