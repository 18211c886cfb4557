"""tools/torchvision_detection/train.py as a user runs it (torchvision's reference flags): one epoch on a
tiny bundled dataset, COCO evaluation with pycocotools, resume with --test-only from the saved
checkpoint (weights-only), and two processes through torchrun."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torchvision")
from tests.paths import ROOT, TOOLS  # noqa: E402

TOOL = os.path.join(TOOLS, "torchvision_detection", "train.py")
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("shapes")
    subprocess.run([sys.executable, os.path.join(TOOLS, "generate_shapes_dataset.py"), "--profile", "demo",
                    "--num-train", "16", "--num-val", "8", "--out", str(out)], check=True, env=ENV,
                   capture_output=True)
    return out


def run(arguments, launcher=(sys.executable,)):
    result = subprocess.run([*launcher, TOOL, *arguments], capture_output=True, text=True, env=ENV, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


@pytest.mark.parametrize("model", ["retinanet_r18_fpn_softmax", "fasterrcnn_r18_fpn_softmax"])
def test_trains_evaluates_and_resumes(model, tiny_data, tmp_path):
    common = ["--data-path", str(tiny_data), "--model", model, "-b", "8", "-j", "0", "--output-dir", str(tmp_path)]
    run(common + ["--epochs", "1"])
    metrics = json.load(open(tmp_path / "metrics.json"))
    assert set(metrics) >= {"AP", "AP50", "AP75", "detections"} and metrics["model"] == model
    assert 0.0 <= metrics["AP"] <= 1.0
    assert (tmp_path / "checkpoint.pth").exists()
    os.remove(tmp_path / "metrics.json")
    run(common + ["--epochs", "1", "--resume", str(tmp_path / "checkpoint.pth"), "--test-only"])
    again = json.load(open(tmp_path / "metrics.json"))
    assert again["AP"] == metrics["AP"] and again["detections"] == metrics["detections"]


def test_two_processes_through_torchrun(tiny_data, tmp_path):
    run(["--data-path", str(tiny_data), "--epochs", "1", "-b", "4", "-j", "0", "--output-dir", str(tmp_path)],
        launcher=(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"))
    metrics = json.load(open(tmp_path / "metrics.json"))
    assert metrics["world_size"] == 2 and 0.0 <= metrics["AP"] <= 1.0


def test_class_balanced_alpha_from_the_training_file(tiny_data):
    """--class-balanced-beta: the softmax models' loss gets coco_class_balanced_alpha of the training file."""
    import importlib.util

    import torch

    from imbalanced_losses.torchvision import coco_class_balanced_alpha
    spec = importlib.util.spec_from_file_location("tv_train_tool", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    ann_file = str(tiny_data / "annotations" / "train.json")
    num_classes = max(json.load(open(ann_file))["categories"], key=lambda c: c["id"])["id"] + 1
    retinanet = tool.build_model("retinanet_r18_fpn_softmax", num_classes, 128, 2.0, ann_file, 0.99)
    expected = coco_class_balanced_alpha(ann_file, 0.99, mean=0.25, background_weight=0.75, num_classes=num_classes)
    torch.testing.assert_close(retinanet.head.classification_head.loss.alpha, expected)
    assert expected[0].item() == 0.75 and expected[1:].max() > 2 * expected[1:].min()  # not the default 0.25 each
    faster = tool.build_model("fasterrcnn_r18_fpn_softmax", num_classes, 128, 2.0, ann_file, 0.99)
    torch.testing.assert_close(faster.roi_heads.loss.alpha,
                               coco_class_balanced_alpha(ann_file, 0.99, num_classes=num_classes))
    result = subprocess.run([sys.executable, TOOL, "--data-path", str(tiny_data), "--model", "retinanet_r18_fpn",
                             "--class-balanced-beta", "0.99", "--test-only"], capture_output=True, text=True,
                            env=ENV, timeout=300)
    assert result.returncode != 0 and "--class-balanced-beta is an option of the _softmax models" in result.stderr
