"""MMSegmentation integration (the ``mmseg`` extra). Importing it registers:

- everything ``imbalanced_losses.openmmlab`` registers: ``SoftmaxFocalLoss``, ``BackgroundPrior``
  and ``ExactResumeHook`` in mmengine's root registries, which mmseg's registries find;
- ``LongTailIoUMetric`` into mmseg's ``METRICS``: IoUMetric plus the mean IoU over rare / common /
  frequent classes;
- ``ImageGtPredVisualizer`` into its ``VISUALIZERS``: pictures of image | ground truth |
  prediction, for ``tools/test.py --show-dir``.

A segmentation config says
``custom_imports = dict(imports=['imbalanced_losses.mmseg'], allow_failed_imports=False)`` and
then ``loss_decode=dict(type='SoftmaxFocalLoss', loss_name='loss_focal', ignore_index=255, ...)``
in any decode or auxiliary head.
"""
import importlib.util

if importlib.util.find_spec("mmseg") is None:
    raise ImportError("imbalanced_losses.mmseg needs MMSegmentation, which is not installed: "
                      "pip install 'imbalanced-losses[mmseg]'")

from ..openmmlab import OpenMMLabSoftmaxFocalLoss, class_counts_from_label_maps  # noqa: E402  (registers the loss)
from .metrics import LongTailIoUMetric  # noqa: E402
from .visualization import ImageGtPredVisualizer  # noqa: E402

__all__ = ["ImageGtPredVisualizer", "LongTailIoUMetric", "OpenMMLabSoftmaxFocalLoss", "class_counts_from_label_maps"]
