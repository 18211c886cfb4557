"""tools/: train, test, resume and the CPU torchrun launcher, as subprocesses on a tiny dataset."""
import json
import os
import re
import sys
import textwrap

import pytest
import torch

pytest.importorskip("mmdet")
from tests.tool_runner import CONFIG, ROOT, make_shapes_workspace, run, write_config_with_hook  # noqa: E402


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder holding data/shapes (16 train, 8 val images), where configs find it."""
    return make_shapes_workspace(tmp_path_factory.mktemp("tools"))


def test_train_test_and_resume(workspace):
    train = [sys.executable, os.path.join(ROOT, "tools", "train.py"), CONFIG, "--work-dir", "wd"]
    # 16 images at batch 8: 2 iterations per epoch.
    options = ["--cfg-options", "train_dataloader.batch_size=8", "default_hooks.checkpoint.interval=1"]
    output = run(train + options + ["train_cfg.max_epochs=1"], cwd=workspace)
    assert re.search(r"Epoch\(train\) \[1\]\[2/2\]", output)
    checkpoint = os.path.join(workspace, "wd", "epoch_1.pth")
    assert os.path.exists(checkpoint)

    output = run([sys.executable, os.path.join(ROOT, "tools", "test.py"), CONFIG, checkpoint, "--work-dir", "wd",
                  "--out", "wd/results.pkl", "--show-dir", "vis",
                  # after 2 iterations every score is still near the prior, below the 0.05 default
                  "--cfg-options", "model.test_cfg.score_thr=0.0"], cwd=workspace)
    assert re.search(r"coco/bbox_mAP: -?\d\.\d+", output)
    assert os.path.getsize(os.path.join(workspace, "wd", "results.pkl")) > 0
    drawn = [f for _, _, files in os.walk(os.path.join(workspace, "wd")) for f in files if f.endswith(".png")]
    assert len(drawn) == 8  # --show-dir: one image per val image

    output = run(train + options + ["train_cfg.max_epochs=2", "--resume"], cwd=workspace)
    assert "resumed epoch: 1, iter: 2" in output
    assert re.search(r"Epoch\(train\) \[2\]\[2/2\]", output)
    state = torch.load(os.path.join(workspace, "wd", "epoch_2.pth"), map_location="cpu", weights_only=False)
    assert state["meta"]["iter"] == 4


HOOK = textwrap.dedent('''
    import os
    import torch
    from mmengine.hooks import Hook
    from mmdet.registry import HOOKS


    @HOOKS.register_module()
    class DumpParamsHook(Hook):
        """Saves every rank's parameters after training, to compare the ranks."""

        def after_train(self, runner):
            model = runner.model.module if hasattr(runner.model, "module") else runner.model
            params = {name: p.detach().clone() for name, p in model.named_parameters()}
            torch.save(dict(params=params, world_size=runner.world_size),
                       os.path.join(runner.work_dir, f"params_rank{runner.rank}.pt"))
''')


def test_dist_train_and_test_on_cpu_with_two_ranks(workspace):
    write_config_with_hook(workspace, "dist_config", HOOK, "DumpParamsHook")
    # 16 images over 2 ranks at batch 4: 2 iterations on each rank; gather_distributed=True.
    output = run(["bash", os.path.join(ROOT, "tools", "dist_train.sh"), "dist_config.py", "2", "--work-dir", "wd_dist",
                  "--cfg-options", "train_dataloader.batch_size=4", "train_cfg.max_epochs=1",
                  "model.bbox_head.loss_cls.gather_distributed=True"],
                 cwd=workspace, env_extra=dict(PORT=str(29500 + os.getpid() % 1000)))
    assert re.search(r"Epoch\(train\) \[1\]\[2/2\]", output)
    ranks = [torch.load(os.path.join(workspace, "wd_dist", f"params_rank{r}.pt")) for r in range(2)]
    assert ranks[0]["world_size"] == 2
    for name, value in ranks[0]["params"].items():
        assert torch.equal(value, ranks[1]["params"][name]), name
    checkpoint = os.path.join(workspace, "wd_dist", "epoch_1.pth")
    assert torch.load(checkpoint, map_location="cpu", weights_only=False)["meta"]["iter"] == 2

    output = run(["bash", os.path.join(ROOT, "tools", "dist_test.sh"), CONFIG, checkpoint, "2", "--work-dir",
                  "wd_dist", "--cfg-options", "model.test_cfg.score_thr=0.0"],
                 cwd=workspace, env_extra=dict(PORT=str(30500 + os.getpid() % 1000)))
    assert re.search(r"coco/bbox_mAP: -?\d\.\d+", output)


def test_generator_is_valid_coco_long_tailed_and_deterministic(tmp_path):
    from pycocotools.coco import COCO
    script = os.path.join(ROOT, "tools", "generate_shapes_dataset.py")
    for name in ["a", "b"]:
        run([sys.executable, script, "--out", name, "--seed", "3", "--num-train", "300", "--num-val", "40"],
            cwd=str(tmp_path))
    for split in ["train", "val"]:
        coco = COCO(str(tmp_path / "a" / "annotations" / f"{split}.json"))
        assert len(coco.getCatIds()) >= 8
        for ann in coco.loadAnns(coco.getAnnIds()):
            x, y, w, h = ann["bbox"]
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 128 and y + h <= 128
            assert ann["area"] > 0 and ann["iscrowd"] == 0
        images = coco.loadImgs(coco.getImgIds())
        assert all((tmp_path / "a" / split / img["file_name"]).exists() for img in images)
    train = json.load(open(tmp_path / "a" / "annotations" / "train.json"))
    counts = torch.bincount(torch.tensor([a["category_id"] for a in train["annotations"]]))[1:]
    assert counts.max() >= 30 * counts.min() > 0
    for rel in ["annotations/train.json", "annotations/val.json", "train/000001.png", "val/000040.png"]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
