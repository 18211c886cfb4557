"""MMDetection integration (the ``mmdet`` extra). Importing it registers:

- everything ``imbalanced_losses.openmmlab`` registers: ``SoftmaxFocalLoss``, ``BackgroundPrior``
  and ``ExactResumeHook`` in mmengine's root registries;
- into mmdet's registries: ``SoftmaxRetinaHead`` (MODELS), a RetinaHead with the background at
  channel 0 and a background prior, and ``LongTailCocoMetric`` (METRICS), CocoMetric plus
  LVIS-style APr / APc / APf.

Configs load it with
``custom_imports = dict(imports=['imbalanced_losses.mmdet'], allow_failed_imports=False)``.
"""
import importlib.util

if importlib.util.find_spec("mmdet") is None:
    raise ImportError("imbalanced_losses.mmdet needs MMDetection, which is not installed: "
                      "pip install 'imbalanced-losses[mmdet]'")

from ..openmmlab import BackgroundPriorInit, MMDetSoftmaxFocalLoss, OpenMMLabSoftmaxFocalLoss  # noqa: E402
from .heads import SoftmaxRetinaHead  # noqa: E402
from .metrics import LongTailCocoMetric  # noqa: E402

__all__ = ["BackgroundPriorInit", "LongTailCocoMetric", "MMDetSoftmaxFocalLoss", "OpenMMLabSoftmaxFocalLoss",
           "SoftmaxRetinaHead"]
