"""LongTailIoUMetric: mmseg's IoUMetric plus the mean IoU over rare / common / frequent classes.

Groups follow LVIS's rule, applied to the *training* label maps: a class is rare if 1-10
training images hold it (0 counts as rare too), common if 11-100, frequent if more
(``imbalanced_losses.statistics.frequency_groups``). Segmentation has no standard for this; the pixel share
is the alternative, and the image count is used here so that the groups mean the same as in the
detection study. The IoUs themselves are mmseg's: the per-class intersections and unions that
``IoUMetric.process`` accumulates over the dataset.
"""
import numpy as np
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS

from ..statistics.frequency_groups import FREQUENCY_GROUPS, frequency_group
from ..statistics.label_maps import class_counts_from_label_maps


@METRICS.register_module()
class LongTailIoUMetric(IoUMetric):
    """``IoUMetric`` (aAcc, mIoU, mAcc, ...) plus ``mIoU_r``, ``mIoU_c``, ``mIoU_f`` and per-class
    ``IoU.<class>``, all in percent like mmseg's.

    Every other argument is ``IoUMetric``'s (its ``ignore_index`` also applies to the training
    maps).

    Args:
        train_seg_map_dir (str): the training split's label maps (decide the groups).
        seg_map_suffix (str): their file suffix. Default: '.png'.
    """

    def __init__(self, train_seg_map_dir, seg_map_suffix=".png", **kwargs):
        super().__init__(**kwargs)
        self.train_seg_map_dir = train_seg_map_dir
        self.seg_map_suffix = seg_map_suffix
        self._groups = None

    def groups(self, num_classes):
        if self._groups is None:
            counts = class_counts_from_label_maps(self.train_seg_map_dir, num_classes, "images", self.ignore_index,
                                                  self.seg_map_suffix)
            self._groups = [frequency_group(n) for n in counts]
        return self._groups

    def compute_metrics(self, results):
        metrics = super().compute_metrics(results)
        intersect, union = (sum(area) for area in tuple(zip(*results))[:2])
        with np.errstate(invalid="ignore", divide="ignore"):
            iou = (np.asarray(intersect, dtype=np.float64) / np.asarray(union, dtype=np.float64))
        classes = self.dataset_meta["classes"]
        groups = np.array(self.groups(len(classes)))
        for group in FREQUENCY_GROUPS:
            members = iou[groups == group]
            members = members[~np.isnan(members)]
            metrics[f"mIoU_{group}"] = float(np.round(members.mean() * 100, 2)) if members.size else float("nan")
        for name, value in zip(classes, iou):
            metrics[f"IoU.{name}"] = float(np.round(value * 100, 2))
        return metrics
