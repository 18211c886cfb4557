"""mmdet's and mmseg's OWN tools (tools/train.py and tools/test.py from their installed ``.mim``
folders, as a user runs them) on our configs: the checkpoint train.py writes is read by test.py and
by --resume under torch's weights_only=True, because importing our adapter (the configs'
custom_imports) allow-lists mmengine's checkpoint types."""
import os
import re
import sys

import pytest

mmdet = pytest.importorskip("mmdet")
mmseg = pytest.importorskip("mmseg")
from tests.tool_runner import CONFIG, make_shapes_workspace, run  # noqa: E402

MMDET_TOOLS = os.path.join(os.path.dirname(mmdet.__file__), ".mim", "tools")
MMSEG_TOOLS = os.path.join(os.path.dirname(mmseg.__file__), ".mim", "tools")
SEG_CONFIG = os.path.join(os.path.dirname(CONFIG), "..", "segmentation", "unet-s4-d8_fcn_softmax-focal_shapes-seg.py")


def test_mmdets_own_train_test_and_resume(tmp_path):
    workspace = make_shapes_workspace(tmp_path)
    train = [sys.executable, os.path.join(MMDET_TOOLS, "train.py"), CONFIG, "--work-dir", "wd", "--cfg-options",
             "train_dataloader.batch_size=8", "default_hooks.checkpoint.interval=1"]
    output = run(train + ["train_cfg.max_epochs=1"], cwd=workspace)
    assert re.search(r"Epoch\(train\) \[1\]\[2/2\]", output)
    checkpoint = os.path.join(workspace, "wd", "epoch_1.pth")
    output = run([sys.executable, os.path.join(MMDET_TOOLS, "test.py"), CONFIG, checkpoint, "--work-dir", "wd",
                  "--cfg-options", "model.test_cfg.score_thr=0.0"], cwd=workspace)
    assert "Weights only load failed" not in output
    assert re.search(r"coco/bbox_mAP: -?\d\.\d+", output), output[-3000:]
    output = run(train + ["train_cfg.max_epochs=2", "--resume"], cwd=workspace)
    assert "resumed epoch: 1, iter: 2" in output
    assert re.search(r"Epoch\(train\) \[2\]\[2/2\]", output)


def test_mmsegs_own_train_and_test(tmp_path):
    run([sys.executable, os.path.join(os.path.dirname(CONFIG), "..", "..", "tools", "generate_shapes_dataset.py"),
         "--profile", "segmentation", "--out", "data/shapes_seg"],
        cwd=str(tmp_path))
    options = ["--cfg-options", "train_cfg.max_iters=2", "train_cfg.val_interval=2",
               "default_hooks.checkpoint.interval=2", "train_dataloader.batch_size=4"]
    run([sys.executable, os.path.join(MMSEG_TOOLS, "train.py"), SEG_CONFIG, "--work-dir", "wd"] + options,
        cwd=str(tmp_path))
    checkpoint = os.path.join(str(tmp_path), "wd", "iter_2.pth")
    output = run([sys.executable, os.path.join(MMSEG_TOOLS, "test.py"), SEG_CONFIG, checkpoint, "--work-dir", "wd"],
                 cwd=str(tmp_path))
    assert "Weights only load failed" not in output
    assert re.search(r"mIoU: -?\d+\.\d+", output), output[-3000:]
