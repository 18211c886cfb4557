"""tools/torchvision_detection/train.py as a user runs it (torchvision's reference flags): one epoch on a
tiny bundled dataset, COCO evaluation with pycocotools, resume with --test-only from the saved
checkpoint (weights-only), and two processes through torchrun."""
import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torchvision")
from paths import ROOT, TOOLS  # noqa: E402

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
