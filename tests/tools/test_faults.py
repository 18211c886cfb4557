"""Faults, each with a bounded time: a rank that dies in tools/dist_train.sh, and a training run
killed between checkpoints that resumes with --resume."""
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

pytest.importorskip("mmdet")
from tests.tool_runner import CONFIG, make_shapes_workspace, run, tool, tool_env, write_config_with_hook  # noqa: E402

FAILING_HOOK = textwrap.dedent('''
    import os
    import time
    from mmengine.hooks import Hook
    from mmdet.registry import HOOKS


    @HOOKS.register_module()
    class FailOnRankOneHook(Hook):
        """Rank 1 raises after its first training iteration; rank 0 goes on into the next one."""

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.rank == 1 and runner.iter == 0:
                with open(os.path.join(runner.work_dir, "failed_at"), "w") as f:
                    f.write(repr(time.time()))
                raise RuntimeError("injected failure on rank 1")
''')


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return make_shapes_workspace(tmp_path_factory.mktemp("faults"))


def test_a_failing_rank_ends_the_whole_job_quickly_with_its_error(workspace):
    config = write_config_with_hook(workspace, "failing_config", FAILING_HOOK, "FailOnRankOneHook")
    command = ["bash", tool("dist_train.sh"), config, "2", "--work-dir", "wd_fail",
               "--cfg-options", "train_dataloader.batch_size=2", "train_cfg.max_epochs=3"]
    result = subprocess.run(command, cwd=workspace, capture_output=True, text=True, timeout=240,
                            env=tool_env(workspace, dict(PORT=str(31500 + os.getpid() % 1000))))
    ended = time.time()
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    failed_at = float(open(os.path.join(workspace, "wd_fail", "failed_at")).read())
    assert ended - failed_at < 60, f"the job took {ended - failed_at:.0f} s to end after rank 1 failed"
    assert "injected failure on rank 1" in output  # the failing rank's error is visible
    assert re.search(r"rank\s*:\s*1", output)  # torchrun's summary names the failing rank


def test_killed_run_resumes_from_its_last_checkpoint_and_finishes(workspace):
    """Kill -9 the whole process group once a checkpoint exists; --resume picks up from it."""
    train = [sys.executable, tool("train.py"), CONFIG, "--work-dir", "wd_kill", "--cfg-options",
             "train_dataloader.batch_size=8", "default_hooks.checkpoint.interval=1", "train_cfg.max_epochs=4"]
    process = subprocess.Popen(train, cwd=workspace, env=tool_env(workspace), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    last = os.path.join(workspace, "wd_kill", "last_checkpoint")
    deadline = time.time() + 240
    try:
        while not os.path.exists(last) and process.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert os.path.exists(last), "no checkpoint was written"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    epoch = int(re.search(r"epoch_(\d+)\.pth", open(last).read()).group(1))
    assert epoch < 4, "the run finished before it could be killed"

    output = run(train + ["--resume"], cwd=workspace)
    assert f"resumed epoch: {epoch}, iter: {2 * epoch}" in output
    assert re.search(r"Epoch\(train\) \[4\]\[2/2\]", output)
    state = torch.load(os.path.join(workspace, "wd_kill", "epoch_4.pth"), map_location="cpu", weights_only=False)
    assert state["meta"]["epoch"] == 4 and state["meta"]["iter"] == 8
