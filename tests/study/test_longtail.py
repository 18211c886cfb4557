"""The long-tail study's parts: the longtail data profile, the group-AP metric, class-balanced
alpha read from an annotation file, and the study runner's --quick smoke test."""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("mmdet")
from mmdet.registry import MODELS  # noqa: E402
from mmdet.utils import register_all_modules  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402

from imbalanced_losses import class_balanced_alpha  # noqa: E402
from imbalanced_losses.mmdet import LongTailCocoMetric  # noqa: E402
from imbalanced_losses.statistics.coco import class_counts, class_frequency_groups  # noqa: E402
from tests.paths import ROOT, STUDY

GENERATOR = os.path.join(ROOT, "tools", "generate_shapes_dataset.py")
CB_CONFIG = os.path.join(STUDY, "configs", "retinanet_r18-half_fpn_softmax-focal-cb_longtail.py")
register_all_modules()


def generate(out, *extra):
    subprocess.run([sys.executable, GENERATOR, "--profile", "longtail", "--out", str(out), *extra], check=True,
                   capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def longtail(tmp_path_factory):
    out = tmp_path_factory.mktemp("longtail")
    generate(out, "--seed", "0")
    return out


# ---------------------------------------------------------------- the data profile


def test_longtail_profile_has_lvis_like_groups_and_balanced_val(longtail):
    train = json.load(open(longtail / "annotations" / "train.json"))
    val = json.load(open(longtail / "annotations" / "val.json"))
    names = [c["name"] for c in train["categories"]]
    assert len(names) == len(set(names)) >= 16
    # confusable: every class shares colour and shape with another class (they differ in fill)
    assert all(sum(n.split("_", 1)[1] == m.split("_", 1)[1] for m in names) == 2 for n in names)
    images_per_class = {c["id"]: len({a["image_id"] for a in train["annotations"] if a["category_id"] == c["id"]})
                        for c in train["categories"]}
    instances = np.bincount([a["category_id"] for a in train["annotations"]])[1:]
    assert instances.max() >= 200 * instances.min() > 0
    groups = {}
    for category in train["categories"]:
        n = images_per_class[category["id"]]
        expected = "r" if n <= 10 else "c" if n <= 100 else "f"  # LVIS's rule, written out independently
        assert category["frequency"] == expected and category["image_count"] == n, category
        groups.setdefault(expected, []).append(category["name"])
    assert all(len(groups[g]) >= 3 for g in "rcf"), groups
    # val: the same categories (with the train statistics, as LVIS's val file) and >= 50 of each
    assert val["categories"] == train["categories"]
    val_counts = np.bincount([a["category_id"] for a in val["annotations"]], minlength=len(names) + 1)[1:]
    assert val_counts.min() >= 50
    # the annotation helpers agree with the file
    expected = [c["frequency"] for c in train["categories"]]
    assert class_frequency_groups(str(longtail / "annotations" / "train.json")) == expected
    assert class_counts(str(longtail / "annotations" / "train.json")) == instances.tolist()


def test_longtail_profile_is_deterministic(tmp_path):
    for name in ("a", "b"):
        generate(tmp_path / name, "--seed", "3", "--scale", "0.1")
    for rel in ["annotations/train.json", "annotations/val.json", "train/000001.png", "val/000010.png"]:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


# ---------------------------------------------------------------- LongTailCocoMetric

CATEGORIES = [dict(id=1, name="f1", frequency="f"), dict(id=3, name="f2", frequency="f"),
              dict(id=7, name="c1", frequency="c"), dict(id=9, name="r1", frequency="r")]


def box(x, y, size=20):
    return [float(x), float(y), float(size), float(size)]


def write_ground_truth(path):
    """Four images; per class: f1 one box, f2 one box, c1 two boxes, r1 one box."""
    images = [dict(id=i, file_name=f"{i}.png", width=100, height=100) for i in (1, 2, 3, 4)]
    gts = [(1, 1, box(10, 10)), (2, 3, box(50, 50)), (3, 7, box(10, 60)), (4, 7, box(60, 10)), (4, 9, box(30, 30))]
    annotations = [dict(id=i + 1, image_id=img, category_id=cat, bbox=b, area=b[2] * b[3], iscrowd=0)
                   for i, (img, cat, b) in enumerate(gts)]
    path.write_text(json.dumps(dict(images=images, annotations=annotations, categories=CATEGORIES)))


def prediction(img_id, detections):
    """detections: (label, xywh box, score)."""
    xyxy = [[b[0], b[1], b[0] + b[2], b[1] + b[3]] for _, b, _ in detections] or np.zeros((0, 4))
    return dict(img_id=img_id, ori_shape=(100, 100), pred_instances=dict(
        bboxes=torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor([s for _, _, s in detections], dtype=torch.float32),
        labels=torch.tensor([label for label, _, _ in detections], dtype=torch.long)))


def evaluate(ann_file, samples):
    metric = LongTailCocoMetric(ann_file=str(ann_file), metric="bbox")
    metric.dataset_meta = dict(classes=[c["name"] for c in CATEGORIES])
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_group_ap_on_a_hand_built_case(tmp_path):
    """Known per-class APs (COCO's 101-point interpolation, at every IoU threshold):
    f1 exact box: 1; f2 missed: 0; c1 one of two boxes found first: 51/101 (precision 1 up to
    recall 0.5); r1 exact box, but after a higher-scored false positive: 1/2."""
    ann_file = tmp_path / "gt.json"
    write_ground_truth(ann_file)
    labels = {c["name"]: k for k, c in enumerate(CATEGORIES)}
    samples = [
        prediction(1, [(labels["f1"], box(10, 10), 0.9)]),
        prediction(2, [(labels["f1"], box(70, 70), 0.1)]),  # f2 missed; an f1 false positive of low score
        prediction(3, [(labels["c1"], box(10, 60), 0.8)]),
        prediction(4, [(labels["r1"], box(70, 70), 0.95), (labels["r1"], box(30, 30), 0.7)]),
    ]
    results = evaluate(ann_file, samples)
    per_class = results["coco/bbox_per_class_AP"]
    assert per_class == pytest.approx(dict(f1=1.0, f2=0.0, c1=51 / 101, r1=0.5))
    assert results["coco/bbox_APf"] == pytest.approx(0.5)
    assert results["coco/bbox_APc"] == pytest.approx(51 / 101)
    assert results["coco/bbox_APr"] == pytest.approx(0.5)
    # the groups agree with CocoMetric's own mAP: the mean over all classes
    assert results["coco/bbox_mAP"] == pytest.approx(np.mean(list(per_class.values())), abs=5e-4)


def test_group_ap_groups_from_the_training_file_and_empty_results(tmp_path):
    """Without a 'frequency' field the groups come from a training file's image counts."""
    train = dict(images=[dict(id=i, file_name=f"{i}.png", width=100, height=100) for i in range(1, 121)],
                 categories=[dict(id=c["id"], name=c["name"]) for c in CATEGORIES],
                 annotations=[])
    for name_id, num_images in ((1, 120), (3, 101), (7, 11), (9, 10)):
        for i in range(1, num_images + 1):
            train["annotations"].append(dict(id=len(train["annotations"]) + 1, image_id=i, category_id=name_id,
                                             bbox=box(1, 1), area=400.0, iscrowd=0))
    (tmp_path / "train.json").write_text(json.dumps(train))
    assert class_frequency_groups(str(tmp_path / "train.json")) == ["f", "f", "c", "r"]
    ann_file = tmp_path / "gt.json"
    write_ground_truth(ann_file)
    data = json.loads(ann_file.read_text())
    for c in data["categories"]:
        del c["frequency"]
    ann_file.write_text(json.dumps(data))
    metric = LongTailCocoMetric(ann_file=str(ann_file), frequency_file=str(tmp_path / "train.json"))
    assert metric.group_by_name == dict(f1="f", f2="f", c1="c", r1="r")
    metric.dataset_meta = dict(classes=[c["name"] for c in CATEGORIES])
    metric.process({}, [prediction(i, []) for i in (1, 2, 3, 4)])  # nothing detected
    results = metric.evaluate(4)
    assert results["coco/bbox_APr"] == results["coco/bbox_APc"] == results["coco/bbox_APf"] == 0.0


def test_metric_rejects_a_bad_frequency_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    gt = tmp_path / "gt.json"
    write_ground_truth(gt)
    with pytest.raises(ValueError, match=f"cannot read annotation file {bad}"):
        LongTailCocoMetric(ann_file=str(gt), frequency_file=str(bad))
    bad.write_text(json.dumps(dict(images=[])))
    with pytest.raises(ValueError, match=f"{bad} is not a COCO-format annotation file"):
        LongTailCocoMetric(ann_file=str(gt), frequency_file=str(bad))


# ---------------------------------------------------------------- class-balanced alpha from a config


def test_class_balanced_config_reads_weights_from_the_annotation_file(tmp_path, monkeypatch):
    """The shipped config computes alpha from data/shapes_longtail/annotations/train.json (cwd)."""
    categories = [dict(id=5, name="b"), dict(id=2, name="a"), dict(id=9, name="unused"), dict(id=4, name="c")]
    annotations = [(5, 0)] * 30 + [(2, 0)] * 6 + [(2, 1)] + [(4, 0)] * 2 + [(9, 0)] * 50  # (category, iscrowd)
    data = dict(images=[dict(id=1, file_name="1.png", width=10, height=10)], categories=categories,
                annotations=[dict(id=i + 1, image_id=1, category_id=c, bbox=box(0, 0, 5), area=25.0, iscrowd=crowd)
                             for i, (c, crowd) in enumerate(annotations)])
    (tmp_path / "data" / "shapes_longtail" / "annotations").mkdir(parents=True)
    (tmp_path / "data" / "shapes_longtail" / "annotations" / "train.json").write_text(json.dumps(data))
    monkeypatch.chdir(tmp_path)

    cfg = Config.fromfile(CB_CONFIG)
    spec = cfg.model.bbox_head.loss_cls
    assert spec.alpha.type == "class_balanced" and "classes" not in spec.alpha
    # all of the file's categories, in its order: b (30 instances), a (6; the crowd one is not counted), unused, c
    torch.testing.assert_close(MODELS.build(spec).alpha, class_balanced_alpha(
        [30, 6, 50, 2], beta=0.99, mean=0.25, background_class=0, background_weight=0.75))
    # classes given in another order than the file's: labels follow the file's order, as mmdet's CocoDataset
    spec.alpha.classes = ["c", "a", "b"]
    loss = MODELS.build(spec)
    # file order kept to the classes: b (30 instances), a (6; the crowd one is not counted), c (2)
    expected = class_balanced_alpha([30, 6, 2], beta=0.99, mean=0.25, background_class=0, background_weight=0.75)
    torch.testing.assert_close(loss.alpha, expected)
    assert loss.alpha[0].item() == 0.75 and loss.alpha[1:].mean().item() == pytest.approx(0.25)

    spec.alpha.classes = ["a", "missing"]
    with pytest.raises(ValueError, match="has no categories named \\['missing'\\]"):
        MODELS.build(spec)
    spec.alpha = dict(type="class_balanced", ann_file=str(tmp_path / "absent.json"))
    with pytest.raises(ValueError, match="cannot read annotation file .*absent.json"):
        MODELS.build(spec)
    spec.alpha = dict(type="inverse_frequency", ann_file="x.json")
    with pytest.raises(ValueError, match="alpha as a dict must be dict\\(type='class_balanced'"):
        MODELS.build(spec)


def test_class_balanced_config_trains_a_step_on_the_longtail_profile(longtail):
    from mmdet.testing import demo_mm_inputs
    cfg = Config.fromfile(CB_CONFIG)
    cfg.model.bbox_head.loss_cls.alpha.ann_file = str(longtail / "annotations" / "train.json")
    model = MODELS.build(cfg.model)
    model.init_weights()
    alpha = model.bbox_head.loss_cls.alpha
    assert alpha.shape == (17,) and alpha[0] == 0.75
    assert alpha[-1] > 10 * alpha[1]  # the rarest class weighs far more than the most frequent
    packed = demo_mm_inputs(batch_size=2, image_shapes=(3, 128, 128), num_items=[3, 2], num_classes=16)
    losses = model(**model.data_preprocessor(packed, training=True), mode="loss")
    assert torch.isfinite(losses["loss_cls"])


# ---------------------------------------------------------------- the study runner


def test_run_study_quick_smoke_test(tmp_path):
    """Every variant of the three families trains 2 iterations and is evaluated, then is timed; the
    report and plots of each family are written."""
    result = subprocess.run([sys.executable, os.path.join(STUDY, "run_study.py"), "--quick", "--timing", "1"],
                            capture_output=True, text=True, timeout=1800, cwd=str(tmp_path),
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    out = result.stdout.strip().splitlines()[-1].split(" and the plots in ")[1]  # <temp>/docs/study
    results = os.path.join(os.path.dirname(os.path.dirname(out)), "results")  # the records and timing files
    for name in ["per_class_ap.png", "group_ap.png", "loss_curves.png", "iteration_time.png"]:
        assert os.path.getsize(os.path.join(out, name)) > 1000, name
    runs = sorted(os.listdir(os.path.join(results, "runs")))
    one_stage = ["sigmoid-focal", "softmax-ce", "softmax-focal", "softmax-focal-cb"]
    two_stage = ["frcnn-ce", "frcnn-seesaw", "frcnn-softmax-focal", "frcnn-softmax-focal-cb",
                 "frcnn-softmax-focal-prior"]
    segmentation = ["seg-ce", "seg-ce-ohem", "seg-ce-cb", "seg-focal", "seg-focal-cb", "seg-ce-dice", "seg-ce-lovasz",
                    "seg-ce-tversky", "seg-ce-mfw", "seg-focal-cb-dice", "seg-focal-cb-lovasz"]  # retired: not trained
    assert runs == sorted(f"{v}_seed0.json" for v in one_stage + two_stage + segmentation)
    for run in runs:
        record = json.load(open(os.path.join(results, "runs", run)))
        assert record["iteration_seconds"] > 0 and record["loss_curve"]
        if run.startswith("seg-"):
            assert set(record["metrics"]) == {"mIoU", "mIoU_r", "mIoU_c", "mIoU_f", "aAcc", "mAcc"}
            assert len(record["per_class_IoU"]) == 13 and set(record["classes"]) == set(record["per_class_IoU"])
            assert all(p["decode"] > 0 and p["aux"] > 0 for p in record["loss_curve"]), run
            continue
        assert set(record["metrics"]) == {"AP", "AP50", "AP75", "APr", "APc", "APf"}
        assert len(record["per_class_AP"]) == 16
        assert all(p["loss_cls"] > 0 for p in record["loss_curve"]), run  # Seesaw's two parts summed
    for name, variants in [("timing.json", one_stage), ("two_stage_timing.json", two_stage),
                           ("segmentation_timing.json", segmentation)]:
        timing = json.load(open(os.path.join(results, name)))
        assert timing["rounds"] == 1 and sorted(timing["seconds_per_iteration"]) == sorted(variants)
        assert all(len(t) == 1 for t in timing["seconds_per_iteration"].values())
        # each variant's own iteration count (the detection data: one epoch; segmentation: 100)
        assert sorted(timing["last_logged_iteration"]) == sorted(variants)
    seg_timing = json.load(open(os.path.join(results, "segmentation_timing.json")))
    assert set(seg_timing["last_logged_iteration"].values()) == {20}  # --quick's timing length
    for name in ["two_stage_per_class_ap.png", "two_stage_group_ap.png", "two_stage_loss_curves.png",
                 "two_stage_iteration_time.png", "segmentation_per_class_iou.png", "segmentation_group_iou.png",
                 "segmentation_loss_curves.png", "segmentation_iteration_time.png"]:
        assert os.path.getsize(os.path.join(out, name)) > 1000, name
    study = open(os.path.join(os.path.dirname(out), "study.md")).read()
    assert "| softmax focal (ours, class-balanced alpha) | 1 |" in study
    assert "Iteration time ratios come from `--timing 1`" in study
    assert "| sigmoid focal (mmdet's FocalLoss) | 1 |" in study and "| 1.00 +- 0.00 |" in study
    one, two = study.split("## Two-stage: Faster R-CNN")
    assert "## One-stage: RetinaNet" in one and "Faster R-CNN" not in one.split("## One-stage")[1]
    assert "| Faster R-CNN, softmax CE (mmdet's stock) | 1 |" in two and "| 1.00 +- 0.00 |" in two
    assert "iteration time / stock CE" in two and "(study/two_stage_group_ap.png)" in two
    assert "| Faster R-CNN, SeesawLoss (mmdet's) | 1 |" in two
    two, seg = two.split("## Semantic segmentation")
    assert "| mIoU | mIoU_r | mIoU_c | mIoU_f | aAcc | iteration time / CE |" in seg
    assert "| ours + class-balanced alpha | 1 |" in seg and "(study/segmentation_per_class_iou.png)" in seg
    assert "### Per-class IoU (%)" in seg and "| solid_blue_triangle | r |" in seg
    assert "| CrossEntropyLoss + OHEMPixelSampler (mmseg's) | 1 |" in seg
    assert "| class-weighted CE (ours, gamma 0 + class-balanced alpha) | 1 |" in seg
    assert "Paired differences to CrossEntropyLoss (mmseg's default), seed by seed" in seg
    assert "- ours (gamma 2, mean): mIoU_r " in seg and "(seed 0 " in seg


def test_the_study_page_regenerates_byte_identically_from_the_committed_records(tmp_path):
    """docs/study.md and its plots are what --plots-only writes from projects/longtail_study/results/
    (a record, a conclusion or the report changed without regenerating the page fails here)."""
    result = subprocess.run([sys.executable, os.path.join(STUDY, "run_study.py"), "--plots-only", "--docs",
                             str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert (tmp_path / "study.md").read_text() == open(os.path.join(ROOT, "docs", "study.md")).read()
    plots = sorted(os.listdir(tmp_path / "study"))
    assert plots == sorted(p for p in os.listdir(os.path.join(ROOT, "docs", "study")) if p.endswith(".png"))
    assert len(plots) == 12


def test_retired_variants_are_reported_from_their_records_and_not_trained(tmp_path):
    """Issue 36's levers left the code: their configs are gone, their records stay, the runner refuses them."""
    sys.path.insert(0, STUDY)
    try:
        import variants
        from variants import TRAINABLE, VARIANTS
    finally:
        sys.path.remove(STUDY)
    retired = [name for name, variant in VARIANTS.items() if variant.retired]
    assert len(retired) == 6 and not set(retired) & set(TRAINABLE)
    for name in retired:
        assert not os.path.exists(os.path.join(ROOT, VARIANTS[name].config)), name
        family = variants.FAMILIES[VARIANTS[name].family]  # the segmentation family's are in its earlier block
        folder = family.earlier or "runs"
        assert os.path.exists(os.path.join(STUDY, "results", folder, f"{name}_seed0.json")), name
    result = subprocess.run([sys.executable, os.path.join(STUDY, "run_study.py"), "--variants", retired[0],
                             "--work-root", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and f"invalid choice: '{retired[0]}'" in result.stderr
    page = open(os.path.join(ROOT, "docs", "study.md")).read()
    assert page.count("Removed from the code after these runs") == 3


# ---------------------------------------------------------------- the second segmentation twin's calibration

def _study_modules():
    sys.path.insert(0, STUDY)
    try:
        import calibrate_segmentation
        import variants
    finally:
        sys.path.remove(STUDY)
    return calibrate_segmentation, variants


def _calibration_record(seed, frequent=80.0, rare=(10.0, 6.0, 0.0, 0.0)):
    names = ["hollow_blue_triangle", "hollow_blue_circle", "hollow_red_square", "solid_blue_triangle"]
    classes = {"background": dict(group="f"), "solid_red_circle": dict(group="f")}
    classes.update({name: dict(group="r") for name in names})
    per_class = dict(background=95.0, solid_red_circle=frequent, **dict(zip(names, rare)))
    return dict(seed=seed, classes=classes, per_class_IoU=per_class,
                metrics=dict(mIoU_f=frequent, mIoU_r=sum(rare) / len(rare)))


@pytest.mark.parametrize("records,reason", [
    ([_calibration_record(0), _calibration_record(1)], None),
    ([_calibration_record(0)], "1 of 2 seeds recorded"),
    ([_calibration_record(0), _calibration_record(1, frequent=74.9)], "not >= 75 in each seed"),
    ([_calibration_record(0, rare=(5.0, 5.0, 0.0, 0.0)), _calibration_record(1, rare=(5.0, 5.0, 0.0, 0.0))],
     "mIoU_r mean 2.50: not in [3, 30]"),
    ([_calibration_record(0, rare=(20.0, 4.0, 0.0, 0.0)), _calibration_record(1, rare=(20.0, 5.0, 0.0, 0.0))],
     "1 of 4 rare classes above 5 IoU"),
    ([_calibration_record(0, rare=(61.0, 30.0, 0.0, 0.0)), _calibration_record(1, rare=(10.0, 6.0, 0.0, 0.0))],
     "rare classes above 60 IoU: hollow_blue_triangle"),
])
def test_the_counts_twin_calibration_rule(records, reason):
    """Issue 44's rule, written before the runs: mIoU_f >= 75 in each seed, mean mIoU_r in [3, 30],
    >= 2 of the 4 rare classes above 5 IoU in some seed, none above 60."""
    calibrate, _ = _study_modules()
    passes, reasons = calibrate.counts_twin_verdict(records)
    assert passes is (reason is None)
    assert reason is None or any(reason in r for r in reasons), reasons


def test_a_calibrating_family_trains_nothing_but_its_calibration():
    calibrate, variants = _study_modules()
    family = variants.FAMILIES["segmentation-counts"]
    assert family.calibrating and variants.VARIANTS[family.baseline].family == "segmentation-counts"
    assert not [v for v in variants.TRAINABLE if variants.VARIANTS[v].family == "segmentation-counts"]
    assert [c[0] for c in calibrate.CANDIDATES["segmentation-counts"]] == ["counts-4000it", "rare10-4000it",
                                                                          "rare10-6000it"]
    data, options = calibrate.data_options("segmentation-counts-rare10")
    assert data == "data/shapes_segmentation_counts_rare10" and len(options) == 5
    config = Config.fromfile(os.path.join(ROOT, variants.VARIANTS[family.baseline].config))
    parser = argparse.ArgumentParser()  # as tools/train.py reads --cfg-options
    parser.add_argument("--cfg-options", nargs="+", action=DictAction)
    config.merge_from_dict(parser.parse_args(["--cfg-options"] + options + calibrate.COUNTS_LONG_SCHEDULE).cfg_options)
    assert config.train_dataloader.dataset.data_root == data + "/"
    assert config.test_evaluator.train_seg_map_dir == data + "/ann_dir/train"
    assert config.param_scheduler[1]["end"] == config.train_cfg.max_iters == 6000


# ---------------------------------------------------------------- issue 53: numerics pin, earlier block, targets

def _report_modules():
    sys.path.insert(0, STUDY)
    try:
        import numerics
        import report
        import variants
    finally:
        sys.path.remove(STUDY)
    return numerics, report, variants


def test_the_committed_numerics_probe_is_the_pinned_probe_of_a_named_cpu():
    """The probe a later machine must match: 100 losses of the pinned run, its machine named (CPU
    model, AVX-512 or not, ATen's capability) and the options it ran with (a changed pin or probe
    needs a new record)."""
    numerics, _, _ = _report_modules()
    record = json.load(open(numerics.PROBE_RECORD))
    assert record["options"] == numerics.PROBE_OPTIONS and record["config"] == numerics.PROBE_CONFIG
    assert record["machine"]["pinned_env"] == numerics.PINNED_ENV
    assert record["machine"]["aten_cpu_capability"] == "AVX2" and isinstance(record["machine"]["avx512"], bool)
    assert record["machine"]["cpu_model"] and record["machine"]["threads"] == 2
    losses = record["losses"]
    assert len(losses) == numerics.PROBE_ITERATIONS and all(0 < loss < 1 for loss in losses)
    assert losses[-1] < losses[0]  # it trains


def test_a_record_names_its_cpu_and_the_pin_reaches_the_training_process():
    numerics, report, _ = _report_modules()
    machine = numerics.machine()
    assert machine["aten_cpu_capability"] == "AVX2" or not torch.backends.cpu.get_cpu_capability().startswith("AVX")
    assert machine["threads"] == 2 and machine["pinned_env"] == numerics.PINNED_ENV
    label = report.machine_label(machine)
    assert machine["cpu_model"] in label and ("no AVX-512" in label) is (not machine["avx512"])
    assert report.machine_label(dict(processor="x86_64", cpus=2, python="3.11.7")) == "x86_64, 2 CPUs"
    unpinned = numerics.pinned_environment(pinned=False)
    assert not set(numerics.PINNED_ENV) & set(unpinned)
    assert numerics.first_difference([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) is None
    assert numerics.first_difference([1.0, 2.5, 3.0], [1.0, 2.0, 3.0]) == 2
    assert numerics.first_difference([1.0, 2.0], [1.0, 2.0, 3.0]) == 3


def test_the_runner_refuses_to_train_where_the_numerics_probe_differs(tmp_path, monkeypatch):
    sys.path.insert(0, STUDY)
    try:
        import run_study
    finally:
        sys.path.remove(STUDY)
    monkeypatch.setattr(run_study, "check_probe", lambda: (False, "numerics probe: loss at iteration 2 differs"))
    trained = []
    monkeypatch.setattr(run_study, "train_and_evaluate", lambda *a, **k: trained.append(a))
    args = argparse.Namespace(seeds=[0], variants=["seg-ce"], quick=False, unpaired_numerics=False,
                              work_root=str(tmp_path))
    with pytest.raises(SystemExit, match="iteration 2 differs; --unpaired-numerics trains anyway"):
        run_study.train_missing_runs(args, str(tmp_path), str(tmp_path))
    assert not trained


def _seg_record(variant, seed, miou, common, frequent, machine=None):
    return dict(variant=variant, seed=seed, metrics=dict(mIoU=miou, mIoU_r=0.0, mIoU_c=common, mIoU_f=frequent,
                                                         aAcc=98.0, mAcc=60.0),
                per_class_IoU=dict(background=99.0), classes=dict(background=dict(images=501, group="f")),
                iteration_seconds=0.2, train_seconds=800.0, machine=machine or dict(processor="x86_64", cpus=2),
                loss_curve=[dict(iter=20, loss=0.5, decode=0.4, aux=0.1)])


@pytest.mark.parametrize("ours_miou,ours_frequent,verdicts", [
    ((60.0, 61.0, 62.0), 90.0, ["met", "met", "met", "met"]),
    ((60.0, 49.0, 62.0), 90.0, ["met", "missed", "met", "met"]),  # one seed below the best baseline
    ((60.0, 61.0, 62.0), 80.0, ["met", "met", "met", "missed"]),  # frequent classes > 3 points below CE's
    ((45.0, 46.0, 47.0), 90.0, ["missed", "missed", "met", "met"]),
])
def test_the_segmentation_targets_are_judged_from_the_records(ours_miou, ours_frequent, verdicts):
    """Issue 53's targets, on a hand-built family: ours + CB against the best baseline (CE + Lovász)."""
    _, report, variants = _report_modules()
    spec = variants.FAMILIES["segmentation"]
    runs = {"seg-ce": [_seg_record("seg-ce", s, 40.0, 18.0, 88.0) for s in range(3)],
            "seg-ce-lovasz": [_seg_record("seg-ce-lovasz", s, 50.0, 40.0, 88.0) for s in range(3)],
            "seg-focal-cb": [_seg_record("seg-focal-cb", s, m, 50.0, ours_frequent) for s, m in enumerate(ours_miou)]}
    lines = report.target_verdicts(spec, runs, list(runs), 2)
    assert [line.split(":")[0][2:] for line in lines if line.startswith("- ")] == verdicts
    assert any(line.startswith("Not run under the pinned numerics") and "CE + Dice" in line for line in lines)
    runs["seg-ce-dice"] = runs["seg-ce"][:1]
    assert "Pending: not every variant has its 3 seeds (CE + Dice (mmseg's TverskyLoss 0.5/0.5) 1/3)" in \
        report.target_verdicts(spec, runs, list(runs), 2)[-1]


def test_earlier_runs_are_a_block_of_their_own_after_the_pinned_rows(tmp_path):
    """Records of the earlier numerics are reported after the family's pinned runs, paired only among
    themselves; the rank by mIoU and the targets cover the pinned runs only."""
    _, report, variants = _report_modules()
    spec = variants.FAMILIES["segmentation"]
    pinned = dict(processor="x86_64", cpus=2, cpu_model="AMD EPYC", avx512=False, aten_cpu_capability="AVX2",
                  torch="2.13.0+cpu", onednn="3.12.0")
    for folder, machine, shift in [("runs", pinned, 0.0), (spec.earlier, None, 10.0)]:
        os.makedirs(tmp_path / "results" / folder)
        for variant, miou in [("seg-ce", 40.0), ("seg-focal-cb", 55.0)]:
            for seed in range(3):
                record = _seg_record(variant, seed, miou + shift + seed, 30.0, 88.0, machine)
                (tmp_path / "results" / folder / f"{variant}_seed{seed}.json").write_text(json.dumps(record))
    assert report.report(str(tmp_path / "results"), str(tmp_path / "docs"))
    page = (tmp_path / "docs" / "study.md").read_text()
    section = page.split("## Semantic segmentation: UNet + FCN head (mmseg)")[1]
    pinned_part, earlier_part = section.split("### Earlier block: before the numerics pin")
    assert "| ours + class-balanced alpha | 3 | 56.00 +- 1.00 |" in pinned_part
    assert "1. ours + class-balanced alpha: 56.00 +- 1.00 (3)" in pinned_part
    assert "AMD EPYC, 2 CPUs, no AVX-512, ATen AVX2" in pinned_part
    assert "| ours + class-balanced alpha | 3 | 66.00 +- 1.00 |" in earlier_part
    assert "Rank by mean" not in earlier_part and "Targets" not in earlier_part
    assert "on x86_64, 2 CPUs" in earlier_part
