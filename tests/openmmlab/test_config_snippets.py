"""Every config snippet of README and docs/ (a Python block with our ``custom_imports`` and a
``model = dict(...)``), put on top of real mmdet/mmseg base configs as a user pastes it: one base
whose loss is a dict with other keys (mmdet's FocalLoss, mmseg's CrossEntropyLoss with
class_weight) and one whose ``loss_decode`` is a list; the heads build with our loss."""
import glob
import os
import re

import pytest

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")
from mmengine.config import Config  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from imbalanced_losses.openmmlab import OpenMMLabSoftmaxFocalLoss  # noqa: E402
from tests.paths import ROOT  # noqa: E402

BASES = {
    ("mmdet", "bbox_head"): ["mmdet::retinanet/retinanet_r50_fpn_1x_coco.py",
                             "mmdet::retinanet/retinanet_r18_fpn_1x_coco.py"],
    ("mmdet", "roi_head"): ["mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py",
                            "mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py"],
    ("mmseg", "decode_head"): ["mmseg::cgnet/cgnet_fcn_4xb4-60k_cityscapes-680x680.py",  # CE with class_weight
                               "mmseg::ddrnet/ddrnet_23_in1k-pre_2xb6-120k_cityscapes-1024x1024.py",  # a list
                               "mmseg::pspnet/pspnet_r50-d8_4xb2-40k_cityscapes-512x1024.py"],  # an auxiliary head
}


def snippets():
    sources = ["README.md"] + sorted(glob.glob("docs/**/*.md", recursive=True, root_dir=ROOT))
    found = []
    for source in sources:
        text = open(os.path.join(ROOT, source)).read()
        for index, block in enumerate(re.findall(r"```python\n(.*?)```", text, re.S)):
            codebase = re.search(r"custom_imports = dict\(imports=\['imbalanced_losses\.(mmdet|mmseg)'\]", block)
            if codebase and "model = dict(" in block:
                found.append(pytest.param(codebase.group(1), block, id=f"{source}#{index}"))
    return found


SNIPPETS = snippets()


def test_the_snippets_are_found():
    assert len(SNIPPETS) >= 5  # README: mmdet, mmseg; mmdetection guide: 2; segmentation guide: 1


def _heads(cfg, codebase):
    """The heads the snippet configures that the base has (with a type), by path."""
    model = cfg.model
    if codebase == "mmdet":
        return {"bbox_head": model.bbox_head} if "bbox_head" in model else {
            "roi_head.bbox_head": model.roi_head.bbox_head}
    heads = model.auxiliary_head if isinstance(model.get("auxiliary_head"), list) else [model.get("auxiliary_head")]
    found = {"decode_head": model.decode_head}
    found.update({f"auxiliary_head[{i}]": head for i, head in enumerate(heads) if head and "type" in head})
    return found


@pytest.mark.parametrize("codebase,snippet", SNIPPETS)
def test_a_snippet_on_real_base_configs_builds_its_heads_with_our_loss(tmp_path, codebase, snippet):
    key = "bbox_head" if "bbox_head=dict(\n        type=" in snippet else "roi_head" if codebase == "mmdet" \
        else "decode_head"
    from mmengine.registry import MODELS
    __import__(f"imbalanced_losses.{codebase}")
    __import__(f"{codebase}.models")
    for base in BASES[(codebase, key)]:
        path = tmp_path / f"{abs(hash(base))}.py"
        path.write_text(f"_base_ = {base!r}\n{snippet}")
        cfg = Config.fromfile(str(path))
        with DefaultScope.overwrite_default_scope(codebase):
            for name, head_cfg in _heads(cfg, codebase).items():
                if "loss_decode" in head_cfg and head_cfg.loss_decode.get("type") != "SoftmaxFocalLoss":
                    continue  # an auxiliary head the snippet does not configure
                head_cfg = head_cfg.copy()
                if codebase == "mmdet" and name == "bbox_head":
                    head_cfg.update(in_channels=8, feat_channels=8, stacked_convs=1)  # small: only the loss matters
                head = MODELS.build(head_cfg)
                loss = head.loss_cls if codebase == "mmdet" else head.loss_decode
                assert isinstance(loss, OpenMMLabSoftmaxFocalLoss), (base, name, type(loss))


def test_without_delete_the_base_keys_arrive_and_the_error_says_what_to_do(tmp_path):
    path = tmp_path / "user.py"
    path.write_text("_base_ = 'mmseg::cgnet/cgnet_fcn_4xb4-60k_cityscapes-680x680.py'\n"
                    "custom_imports = dict(imports=['imbalanced_losses.mmseg'], allow_failed_imports=False)\n"
                    "model = dict(decode_head=dict(loss_decode=dict(type='SoftmaxFocalLoss', gamma=2.0)))\n")
    cfg = Config.fromfile(str(path))
    from mmseg.registry import MODELS

    import imbalanced_losses.mmseg  # noqa: F401
    with DefaultScope.overwrite_default_scope("mmseg"), \
            pytest.raises(TypeError, match=r"\['class_weight'\]; per-class factors are alpha=.*"
                                           r"add _delete_=True to your loss dict"):
        MODELS.build(cfg.model.decode_head)
