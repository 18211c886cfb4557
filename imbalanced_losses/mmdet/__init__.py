"""OpenMMLab integration. Importing it registers:

- ``SoftmaxFocalLoss`` (needs mmengine): the core loss speaking the OpenMMLab loss protocol, in
  mmengine's root ``MODELS``, so mmdet, mmseg, mmpretrain, ... all find it;
- ``BackgroundPrior`` (needs mmengine): a weight initializer that starts a softmax classifier at
  a background prior (e.g. the ``fc_cls`` of a two-stage RoI head), in mmengine's root
  ``WEIGHT_INITIALIZERS``;
- with mmdet installed, into mmdet's registries: ``SoftmaxRetinaHead`` (MODELS), a RetinaHead
  with the background at channel 0 and a background prior, and ``LongTailCocoMetric``
  (METRICS), CocoMetric plus LVIS-style APr / APc / APf.

Configs load it with
``custom_imports = dict(imports=['imbalanced_losses.mmdet'], allow_failed_imports=False)``.
"""
import importlib.util

from .initializers import BackgroundPriorInit
from .losses import MMDetSoftmaxFocalLoss

__all__ = ["BackgroundPriorInit", "MMDetSoftmaxFocalLoss"]

if importlib.util.find_spec("mmdet") is not None:  # mmseg / mmpretrain users need only the loss
    from .heads import SoftmaxRetinaHead
    from .metrics import LongTailCocoMetric

    __all__ += ["LongTailCocoMetric", "SoftmaxRetinaHead"]
