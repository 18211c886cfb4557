"""What every OpenMMLab codebase shares (needs mmengine; ``imbalanced_losses.mmdet`` and
``imbalanced_losses.mmseg`` import it, so a config imports only the package of its codebase).
Importing it registers, in mmengine's root registries (found by mmdet, mmseg, mmpretrain, ...):

- ``SoftmaxFocalLoss`` (``MODELS``): the core loss speaking the OpenMMLab loss protocol;
- ``BackgroundPrior`` (``WEIGHT_INITIALIZERS``): starts a softmax classifier at a background prior;
- ``ExactResumeHook`` (``HOOKS``): a killed run resumed with ``--resume`` ends where an
  uninterrupted one does (``resumption``).

Also here: class counts from COCO-format annotation files (``annotations``) and from label maps
(``label_maps``) for class-balanced alpha, and the launch/checkpoint helpers of ``tools/`` (``runtime``).
"""
import importlib.util

if importlib.util.find_spec("mmengine") is None:
    raise ImportError("imbalanced_losses' OpenMMLab integration needs mmengine, which is not installed: "
                      "pip install 'imbalanced-losses[mmdet]' (detection) or 'imbalanced-losses[mmseg]' (segmentation)")

from .initializers import BackgroundPriorInit  # noqa: E402  (after the check: a one-line error, not a traceback)
from .label_maps import class_counts_from_label_maps  # noqa: E402
from .losses import MMDetSoftmaxFocalLoss, OpenMMLabSoftmaxFocalLoss  # noqa: E402  (the first: the old name)
from .resumption import ExactResumeHook  # noqa: E402

__all__ = ["BackgroundPriorInit", "ExactResumeHook", "MMDetSoftmaxFocalLoss", "OpenMMLabSoftmaxFocalLoss",
           "class_counts_from_label_maps"]
