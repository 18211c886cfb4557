"""MMSegmentation integration. Importing it registers, with mmseg installed:

- ``LongTailIoUMetric`` into mmseg's ``METRICS``: IoUMetric plus the mean IoU over rare / common /
  frequent classes;
- ``ImageGtPredVisualizer`` into its ``VISUALIZERS``: pictures of image | ground truth |
  prediction, for ``tools/test.py --show-dir``.

The loss itself is registered by ``imbalanced_losses.mmdet`` (in mmengine's root ``MODELS``,
needing only mmengine), so a segmentation config imports both:
``custom_imports = dict(imports=['imbalanced_losses.mmdet', 'imbalanced_losses.mmseg'],
allow_failed_imports=False)`` and then says ``loss_decode=dict(type='SoftmaxFocalLoss',
loss_name='loss_focal', ignore_index=255, ...)`` in any decode or auxiliary head.
"""
import importlib.util

from .label_maps import class_counts_from_label_maps

__all__ = ["class_counts_from_label_maps"]

if importlib.util.find_spec("mmseg") is not None:
    from .metrics import LongTailIoUMetric
    from .visualization import ImageGtPredVisualizer

    __all__ += ["ImageGtPredVisualizer", "LongTailIoUMetric"]
