"""Checkpoints are untrusted input: weights-only loading with a restricted stand-in for getattr,
and one-line errors for files that are not checkpoints."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("mmengine")
from mmengine.logging import HistoryBuffer  # noqa: E402

from imbalanced_losses.openmmlab.checkpoints import allow_mmengine_checkpoints, check_checkpoint  # noqa: E402
from tests.paths import ROOT


class Reach:
    """Pickles as getattr(obj, name): what a crafted checkpoint uses to walk to any object."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


def save_buffer_with_methods(path, statistics_methods, monkeypatch):
    """A checkpoint whose HistoryBuffer state carries the given statistics methods."""
    buffer = HistoryBuffer([1.0, 2.0], [1, 1])
    state = dict(max_length=10, _log_history=np.array([1.0, 2.0]), _count_history=np.array([1, 1]),
                 statistics_methods=statistics_methods)
    with monkeypatch.context() as patch:  # only the writer is patched; the reader is the real class
        patch.setattr(HistoryBuffer, "__getstate__", lambda self: state)
        torch.save({"message_hub": {"log_scalars": {"train/loss": buffer}}}, path)


@pytest.fixture
def statistics_before():
    allow_mmengine_checkpoints()
    HistoryBuffer()  # registers mmengine's defaults, as any Runner does
    before = dict(HistoryBuffer._statistics_methods)
    yield before
    assert HistoryBuffer._statistics_methods == before


def test_history_buffer_round_trips_with_its_own_statistics(tmp_path, statistics_before):
    buffer = HistoryBuffer([1.0, 2.0, 6.0], [1, 1, 1])
    torch.save({"buffer": buffer}, tmp_path / "ok.pth")
    loaded = torch.load(tmp_path / "ok.pth")["buffer"]
    assert loaded.mean() == 3.0 and loaded.statistics("max") == 6.0 and loaded.statistics("current") == 6.0


@pytest.mark.parametrize("reached", [
    lambda: Reach(Reach(getattr, "__self__"), "print"),  # getattr(getattr, '__self__') is builtins
    lambda: Reach(HistoryBuffer, "update"),  # a method of the class, but not a statistic
    lambda: Reach(HistoryBuffer, "__init__"),
], ids=["builtins_via_getattr", "other_method", "dunder"])
def test_crafted_statistics_method_is_refused_and_nothing_changes(tmp_path, monkeypatch, statistics_before, reached):
    path = tmp_path / "crafted.pth"
    save_buffer_with_methods(path, {"mean": reached()}, monkeypatch)
    with pytest.raises(pickle.UnpicklingError, match=r"refused getattr\(.*a checkpoint may only name "
                                                     r"HistoryBuffer's statistics methods"):
        torch.load(path)
    # the fixture checks that HistoryBuffer._statistics_methods is unchanged


def test_other_globals_are_still_refused(tmp_path, statistics_before):
    torch.save({"payload": subprocess.Popen}, tmp_path / "evil.pth")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        torch.load(tmp_path / "evil.pth")


def test_check_checkpoint_gives_one_line_naming_the_file(tmp_path, monkeypatch, statistics_before):
    good = tmp_path / "good.pth"
    torch.save({"state_dict": {"w": torch.ones(3)}, "meta": {"epoch": 1}}, good)
    check_checkpoint(str(good))
    torch.save(torch.ones(3), tmp_path / "tensor.pth")
    (tmp_path / "truncated.pth").write_bytes(good.read_bytes()[:-100])
    crafted = tmp_path / "crafted.pth"
    save_buffer_with_methods(crafted, {"mean": Reach(Reach(getattr, "__self__"), "exec")}, monkeypatch)
    cases = {
        tmp_path / "missing.pth": "No such file",
        tmp_path / "tensor.pth": "holds a Tensor, not a checkpoint",
        tmp_path / "truncated.pth": "not a PyTorch checkpoint file, or a truncated one",
        crafted: "refused getattr",
    }
    for path, reason in cases.items():
        with pytest.raises(SystemExit) as raised:
            check_checkpoint(str(path))
        message = str(raised.value)
        assert message.startswith(f"error: cannot load checkpoint {path}: ") and reason in message, message
        assert "\n" not in message


@pytest.mark.parametrize("kind", ["truncated", "text"])
def test_test_py_rejects_a_bad_file_with_one_line(tmp_path, kind):
    path = tmp_path / f"{kind}.pth"
    if kind == "truncated":
        torch.save({"state_dict": {"w": torch.randn(1000)}}, tmp_path / "full.pth")
        data = (tmp_path / "full.pth").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_text("this is not a checkpoint\n")
    config = os.path.join(ROOT, "configs", "retinanet", "retinanet_r18-half_fpn_softmax-focal_30e_shapes.py")
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "test.py"), config, str(path)],
                            capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                            env=dict(os.environ, PYTHONPATH=ROOT))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot load checkpoint {path}: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_torch_too_old_for_the_allow_list_fails_closed(tmp_path, monkeypatch):
    """Below torch 2.5 the named allow-list entry is unavailable: refuse with one line naming the
    version, and never fall back to weights_only=False (which would run code from the file)."""
    path = tmp_path / "ok.pth"
    torch.save({"state_dict": {"w": torch.ones(2)}}, path)
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(k))
    monkeypatch.setattr(torch, "__version__", "2.1.2+cu121")
    with pytest.raises(SystemExit, match=rf"error: cannot load checkpoint {path}: loading mmengine checkpoints "
                                         r"safely .* needs torch >= 2.5, this is torch 2.1.2\+cu121$"):
        check_checkpoint(str(path))
    assert loads == []  # nothing was unpickled
