"""The study's two task kinds, each an object that knows its own data, metrics, logs and report
columns: detection (mmdet, COCO AP on the longtail profile) and semantic segmentation (mmseg, IoU
on the segmentation profile). The runner and the report ask the family's task; they never switch
on a kind's name."""
import json
import os.path as osp

from imbalanced_losses.statistics.frequency_groups import COMMON_MAX_IMAGES, RARE_MAX_IMAGES

# --quick: no worker processes, a log line every iteration
QUICK_COMMON = ["train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False",
                "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
                "default_hooks.logger.interval=1"]


class DetectionTask:
    """mmdet on a COCO-format dataset; AP in [0, 1], by LVIS group (``LongTailCocoMetric``)."""
    metrics = ("AP", "AP50", "APr", "APc", "APf")  # the report's columns, the headline first
    groups = ("AP", "APr", "APc", "APf")  # overall, rare, common, frequent: the group plot
    per_class_key, per_class_measure = "per_class_AP", "AP"
    digits = 3
    min_quick_scale = 0.0  # --quick draws 1% of the data
    timing_length = "one epoch"
    timing_options = ("train_cfg.max_epochs=1", "train_cfg.val_begin=2", "default_hooks.checkpoint.interval=2")
    quick_timing_options = ()  # --quick's data is 1%: its epoch is short already
    quick_options = ("train_cfg.max_epochs=1", "train_dataloader.batch_size=8", "model.test_cfg.score_thr=0.0",
                     "model.test_cfg.rcnn.score_thr=0.0")
    loss_curves = (("loss_cls", "classification loss (each variant's own scale)"), ("loss_bbox", "box loss"))
    _COCO_KEYS = (("AP", "mAP"), ("AP50", "mAP_50"), ("AP75", "mAP_75"), ("APr", "APr"), ("APc", "APc"),
                  ("APf", "APf"))

    def data_ready(self, data_dir):
        return osp.exists(osp.join(data_dir, "annotations", "val.json"))

    def curve_point(self, entry):
        """One point of the loss curve from mmengine's scalars.json entry."""
        loss_cls = entry.get("loss_cls")
        if loss_cls is None and "loss_cls_classes" in entry:  # SeesawLoss logs its classification loss in two parts
            loss_cls = entry["loss_cls_classes"] + entry["loss_cls_objectness"]
        return dict(iter=entry["iter"], loss=entry["loss"], loss_cls=loss_cls, loss_bbox=entry.get("loss_bbox"))

    def results(self, metrics, where):
        """The record's metrics and per-class scores from the test tool's metrics JSON."""
        if "coco/bbox_mAP" not in metrics:  # CocoMetric returns nothing when there is no detection at all
            raise RuntimeError(f"{where}: no bbox metrics (no detections?): {metrics}")
        return dict(metrics={name: metrics[f"coco/bbox_{key}"] for name, key in self._COCO_KEYS},
                    per_class_AP=metrics["coco/bbox_per_class_AP"])

    def class_statistics(self, data_dir):
        """name -> training images holding the class and its LVIS group (from the training split)."""
        from imbalanced_losses.statistics.coco import class_counts, groups_by_name
        train = osp.join(data_dir, "annotations", "train.json")
        groups = groups_by_name(train)  # file order, as the counts
        images = class_counts(train, count="images")
        return {name: dict(images=n, group=g) for (name, g), n in zip(groups.items(), images)}

    def page_setup(self, classes):
        """The detection data's paragraph at the top of the study page (shared by both detection families)."""
        names = sorted(classes, key=lambda n: -classes[n]["images"])
        groups = {g: [n for n in names if classes[n]["group"] == g] for g in "fcr"}
        return (
            "**Setup (detection).** The longtail profile of the bundled data (`tools/generate_shapes_dataset.py "
            "--profile longtail --seed 0`): 16 confusable classes ({red, blue} x {circle, square, triangle, cross} x "
            f"{{solid, hollow}}), training instances from 1000 down to 3; by LVIS's rule (training images "
            f"holding the class) {len(groups['f'])} frequent, {len(groups['c'])} common and {len(groups['r'])} rare "
            "classes; val holds 60 instances of every class. Within a family every variant has the same model, "
            "schedule and data (seed 0); the seed changes initialisation and data order. "
            "AP is COCO's AP@[.5:.95]; APr/APc/APf are the mean AP over the classes of each group "
            "(`LongTailCocoMetric`). Mean +- std over seeds (sample std).")


class SegmentationTask:
    """mmseg on label maps; IoU in percent, by LVIS group (``LongTailIoUMetric``)."""
    metrics = ("mIoU", "mIoU_r", "mIoU_c", "mIoU_f", "aAcc")
    groups = ("mIoU", "mIoU_r", "mIoU_c", "mIoU_f")
    per_class_key, per_class_measure = "per_class_IoU", "IoU (%)"
    digits = 2
    min_quick_scale = 0.05  # every class must still appear in the tiny split
    timing_iterations = 100
    timing_length = f"{timing_iterations} iterations"
    timing_options = (f"train_cfg.max_iters={timing_iterations}", f"train_cfg.val_interval={timing_iterations + 1}",
                      f"default_hooks.checkpoint.interval={timing_iterations + 1}")
    quick_options = ("train_cfg.max_iters=2", "train_cfg.val_interval=2", "default_hooks.checkpoint.interval=2",
                     "train_dataloader.batch_size=2")
    # --quick --timing: 20 iterations (a smoke test of the timing path for 11 variants, not a measurement)
    quick_timing_options = ("train_cfg.max_iters=20", "train_cfg.val_interval=21",
                            "default_hooks.checkpoint.interval=21")
    loss_curves = (("decode", "decode head loss (each variant's own scale)"), ("aux", "auxiliary head loss (x 0.4)"))
    _RECORDED = ("mIoU", "mIoU_r", "mIoU_c", "mIoU_f", "aAcc", "mAcc")

    def data_ready(self, data_dir):
        return osp.exists(osp.join(data_dir, "class_stats.json"))

    def curve_point(self, entry):
        def head_loss(head):  # mmseg logs decode.<loss_name> and aux.<loss_name>
            return sum(v for k, v in entry.items() if k.startswith(head + ".loss_"))
        return dict(iter=entry["iter"], loss=entry["loss"], decode=head_loss("decode"), aux=head_loss("aux"))

    def results(self, metrics, where):
        if "mIoU" not in metrics:
            raise RuntimeError(f"{where}: no IoU metrics: {metrics}")
        return dict(metrics={name: metrics[name] for name in self._RECORDED},
                    per_class_IoU={k[len("IoU."):]: v for k, v in metrics.items() if k.startswith("IoU.")})

    def class_statistics(self, data_dir):
        stats = json.load(open(osp.join(data_dir, "class_stats.json")))
        train = stats["train"]
        return {name: dict(images=n, group=g, pixel_share=share) for name, n, g, share in
                zip(stats["classes"], train["image_count"], train["groups"], train["pixel_share"])}

    def page_setup(self, classes):
        return None  # the family's own setup paragraph describes its data


DETECTION, SEGMENTATION = DetectionTask(), SegmentationTask()
GROUP_BOUNDS = (RARE_MAX_IMAGES + 0.5, COMMON_MAX_IMAGES + 0.5)  # rare | common | frequent, in training images
