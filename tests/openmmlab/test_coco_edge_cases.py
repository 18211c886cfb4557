"""Real COCO files are messier than the bundled ones: category ids with gaps, iscrowd=1
annotations, images without objects, degenerate boxes. Train, check what reaches our loss, and
evaluate back to the file's category ids."""
import json
import os
import sys

import pytest
import torch

pytest.importorskip("mmdet")
from mmdet.registry import DATASETS, MODELS  # noqa: E402
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config  # noqa: E402

from tests.tool_runner import CONFIG, make_shapes_workspace, run, tool  # noqa: E402

CATEGORY_IDS = [3, 7, 11, 20, 42, 50, 77, 90]  # gaps, as COCO's 1..90 for 80 classes
CROWD_BOX = [60.0, 60.0, 50.0, 50.0]  # xywh
OPTIONS = ["train_cfg.max_epochs=1", "train_dataloader.batch_size=4",
           "model.train_cfg.assigner.ignore_iof_thr=0.5"]  # anchors inside crowd regions: ignored
register_all_modules()


def make_messy(path):
    """Rewrite a generated annotation file with every kind of mess."""
    data = json.load(open(path))
    remap = {k + 1: new for k, new in enumerate(CATEGORY_IDS)}
    for category in data["categories"]:
        category["id"] = remap[category["id"]]
    for ann in data["annotations"]:
        ann["category_id"] = remap[ann["category_id"]]
    data["categories"].reverse()  # the file's order, not the ids', decides the labels
    next_id = max(a["id"] for a in data["annotations"]) + 1
    extra = [
        dict(image_id=1, category_id=CATEGORY_IDS[2], bbox=CROWD_BOX, area=2500.0, iscrowd=1),
        dict(image_id=2, category_id=CATEGORY_IDS[0], bbox=[10.0, 10.0, 0.0, 20.0], area=0.0, iscrowd=0),
        dict(image_id=2, category_id=CATEGORY_IDS[1], bbox=[30.0, 30.0, 0.5, 0.5], area=0.25, iscrowd=0),
        dict(image_id=2, category_id=CATEGORY_IDS[3], bbox=[200.0, 200.0, 10.0, 10.0], area=100.0, iscrowd=0),
    ]
    for ann in extra:
        ann["id"] = next_id
        next_id += 1
        data["annotations"].append(ann)
    first = data["images"][0]
    for _ in range(2):  # images without any annotation
        image_id = max(i["id"] for i in data["images"]) + 1
        data["images"].append(dict(first, id=image_id))
    json.dump(data, open(path, "w"))
    return data


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = make_shapes_workspace(tmp_path_factory.mktemp("messy_coco"))
    for split in ("train", "val"):
        make_messy(os.path.join(root, "data", "shapes", "annotations", f"{split}.json"))
    return root


def test_training_and_evaluation_map_back_to_the_file_category_ids(workspace):
    train = [sys.executable, tool("train.py"), CONFIG, "--work-dir", "wd", "--cfg-options"] + OPTIONS
    run(train, cwd=workspace)
    checkpoint = open(os.path.join(workspace, "wd", "last_checkpoint")).read().strip()
    run([sys.executable, tool("test.py"), CONFIG, checkpoint, "--work-dir", "wd", "--cfg-options",
         "model.test_cfg.score_thr=0.0", "test_evaluator.outfile_prefix=wd/results"], cwd=workspace)
    detections = json.load(open(os.path.join(workspace, "wd", "results.bbox.json")))
    assert detections and {d["category_id"] for d in detections} <= set(CATEGORY_IDS)
    assert len({d["category_id"] for d in detections}) > 1
    # label k is the k-th category of the file, whose order here is the reverse of the ids'
    val = json.load(open(os.path.join(workspace, "data", "shapes", "annotations", "val.json")))
    file_order = [c["id"] for c in val["categories"]]
    cfg = Config.fromfile(CONFIG)
    dataset = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=os.path.join(workspace, "data", "shapes/")))
    assert dataset.cat_ids == [c["id"] for c in val["categories"] if c["name"] in cfg.classes]
    assert dataset.cat2label == {cat_id: k for k, cat_id in enumerate(file_order)}
    empty = [i["id"] for i in val["images"] if not any(a["image_id"] == i["id"] for a in val["annotations"])]
    assert len(empty) == 2 and len(dataset) == len(val["images"])  # images without objects are evaluated


def test_crowd_regions_reach_the_loss_with_weight_zero_and_degenerate_boxes_are_dropped(workspace):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({"model.train_cfg.assigner.ignore_iof_thr": 0.5, "model.backbone.init_cfg": None})
    pipeline = [dict(type="LoadImageFromFile"), dict(type="LoadAnnotations", with_bbox=True),
                dict(type="PackDetInputs")]
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=os.path.join(workspace, "data", "shapes/"),
                                  pipeline=pipeline))
    by_id = {dataset.get_data_info(i)["img_id"]: i for i in range(len(dataset))}
    degenerate = dataset.get_data_info(by_id[2])["instances"]
    raw = [a for a in json.load(open(os.path.join(workspace, "data", "shapes", "annotations", "train.json")))
           ["annotations"] if a["image_id"] == 2]
    assert len(degenerate) == len(raw) - 3  # zero width, sub-pixel and outside-the-image boxes dropped

    sample = dataset[by_id[1]]["data_samples"]
    crowd = get_box_tensor(sample.ignored_instances.bboxes)
    assert crowd.tolist() == [[60.0, 60.0, 110.0, 110.0]]  # iscrowd=1 -> ignored_instances
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    seen = []
    model.bbox_head.loss_cls.register_forward_pre_hook(lambda m, args: seen.append((args[1], args[2])))
    data = model.data_preprocessor(dict(inputs=[dataset[by_id[1]]["inputs"]], data_samples=[sample]), training=True)
    model(**data, mode="loss")
    labels, weights = seen[0]

    head = model.bbox_head
    sizes = [(128 // s, 128 // s) for s in (8, 16, 32)]
    anchors = torch.cat([get_box_tensor(a) for a in head.prior_generator.grid_priors(sizes, device="cpu")])
    gts = get_box_tensor(sample.gt_instances.bboxes)
    in_crowd = bbox_overlaps(anchors, crowd, mode="iof")[:, 0] > 0.5
    near_gt = bbox_overlaps(anchors, gts).max(1).values >= 0.4 if len(gts) else torch.zeros_like(in_crowd)
    crowd_only = in_crowd & ~near_gt
    assert crowd_only.sum() > 10
    assert torch.all(weights[crowd_only] == 0)  # neither numerator nor denominator of our loss
    # the same anchors are plain background (weight 1, label 0) when crowd regions are not ignored
    cfg.merge_from_dict({"model.train_cfg.assigner.ignore_iof_thr": -1})
    model = MODELS.build(cfg.model)
    seen.clear()
    model.bbox_head.loss_cls.register_forward_pre_hook(lambda m, args: seen.append((args[1], args[2])))
    model(**data, mode="loss")
    labels, weights = seen[0]
    assert torch.all(weights[crowd_only] == 1) and torch.all(labels[crowd_only] == 0)
