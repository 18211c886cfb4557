"""OpenMMLab integration (needs the ``mmdet`` extra). Importing it registers into mmdet's MODELS:

- ``SoftmaxFocalLoss``: the core loss speaking mmdet's loss protocol;
- ``SoftmaxRetinaHead``: a RetinaHead with the background at channel 0 and a background prior.

Configs load it with
``custom_imports = dict(imports=['imbalanced_losses.mmdet'], allow_failed_imports=False)``.
"""
from .heads import SoftmaxRetinaHead
from .losses import MMDetSoftmaxFocalLoss

__all__ = ["MMDetSoftmaxFocalLoss", "SoftmaxRetinaHead"]
