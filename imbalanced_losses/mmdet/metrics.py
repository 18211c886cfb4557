"""LongTailCocoMetric: mmdet's CocoMetric plus LVIS's AP over rare / common / frequent classes.

mmdet's ``LVISMetric`` needs the ``lvis`` package, whose PyPI releases use ``np.float`` (gone
since numpy 1.24). This metric gets the same numbers from pycocotools: the per-class AP is the
mean of COCOeval's precision array over IoU thresholds and recall points (area 'all', the
largest max-detections), as CocoMetric's ``classwise`` table has it, and a group's AP is the
mean over its classes that have ground truth, as LVIS's evaluation computes it.
"""
import contextlib
import io
import math
import os.path as osp
import tempfile

import numpy as np
from mmdet.datasets.api_wrappers import COCOeval
from mmdet.evaluation.metrics import CocoMetric
from mmdet.registry import METRICS
from mmengine.fileio import load

from ..statistics.coco import FREQUENCY_GROUPS, groups_by_name


@METRICS.register_module()
class LongTailCocoMetric(CocoMetric):
    """``CocoMetric`` that also reports ``{metric}_APr``, ``_APc``, ``_APf`` and, as a non-scalar
    entry, ``{metric}_per_class_AP`` (class name -> AP at full precision; NaN where val has no
    instance of the class).

    Every argument of ``CocoMetric`` is taken as it is (``metric`` may be 'bbox' and/or 'segm').

    Args:
        frequency_file (str | None): annotation file that gives each class's group, matched by
            category name: its categories' ``frequency`` field where all have one (LVIS files,
            the longtail profile), else computed from its annotations (then it must be the
            *training* file: 1-10 images rare, 11-100 common, more frequent). Default:
            ``ann_file``.
    """

    def __init__(self, *args, frequency_file=None, **kwargs):
        super().__init__(*args, **kwargs)
        unsupported = [m for m in self.metrics if m not in ("bbox", "segm")]
        if unsupported:
            raise ValueError(f"LongTailCocoMetric supports metric 'bbox' and 'segm', got {unsupported}")
        frequency_file = frequency_file or kwargs.get("ann_file") or (args[0] if args else None)
        if frequency_file is None:
            raise ValueError("LongTailCocoMetric needs frequency_file or ann_file to know the class groups")
        self.group_by_name = groups_by_name(frequency_file)

    def compute_metrics(self, results):
        own_prefix = self.outfile_prefix is None
        if own_prefix:  # keep CocoMetric's result files until we have read them
            tmp_dir = tempfile.TemporaryDirectory()
            self.outfile_prefix = osp.join(tmp_dir.name, "results")
        try:
            eval_results = super().compute_metrics(results)
            if not self.format_only:
                for metric in self.metrics:
                    eval_results.update(self._group_results(metric))
        finally:
            if own_prefix:
                self.outfile_prefix = None
                tmp_dir.cleanup()
        return eval_results

    def _group_results(self, metric):
        names = [self._coco_api.loadCats(cat_id)[0]["name"] for cat_id in self.cat_ids]
        missing = [name for name in names if name not in self.group_by_name]
        if missing:
            raise ValueError(f"the frequency file has no group for classes {missing}")
        per_class = dict(zip(names, self.per_class_ap(metric)))
        results = {}
        for group in FREQUENCY_GROUPS:
            aps = [ap for name, ap in per_class.items() if self.group_by_name[name] == group and not math.isnan(ap)]
            results[f"{metric}_AP{group}"] = float(np.mean(aps)) if aps else float("nan")
        results[f"{metric}_per_class_AP"] = per_class
        return results

    def per_class_ap(self, metric):
        """AP of each class in ``self.cat_ids`` order from pycocotools' precision array."""
        predictions = load(f"{self.outfile_prefix}.{metric}.json")
        if not predictions:  # pycocotools cannot load an empty result list: AP is 0 where there is GT
            return [0.0 if self._coco_api.get_ann_ids(cat_ids=[c]) else float("nan") for c in self.cat_ids]
        if metric == "segm":
            for prediction in predictions:
                prediction.pop("bbox")  # mask areas, as CocoMetric does
        coco_eval = COCOeval(self._coco_api, self._coco_api.loadRes(predictions), metric)
        coco_eval.params.catIds = self.cat_ids
        coco_eval.params.imgIds = self.img_ids
        coco_eval.params.maxDets = list(self.proposal_nums)
        coco_eval.params.iouThrs = self.iou_thrs
        with contextlib.redirect_stdout(io.StringIO()):  # CocoMetric already printed this evaluation
            coco_eval.evaluate()
            coco_eval.accumulate()
        precision = coco_eval.eval["precision"][:, :, :, 0, -1]  # (IoU, recall, class) at area 'all'
        aps = []
        for k in range(len(self.cat_ids)):
            values = precision[:, :, k]
            values = values[values > -1]
            aps.append(float(values.mean()) if values.size else float("nan"))
        return aps
