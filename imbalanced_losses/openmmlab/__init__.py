"""What every OpenMMLab codebase shares (needs mmengine; ``imbalanced_losses.mmdet`` and
``imbalanced_losses.mmseg`` import it, so a config imports only the package of its codebase).
Importing it registers, in mmengine's root registries (found by mmdet, mmseg, mmpretrain, ...):

- ``SoftmaxFocalLoss`` (``MODELS``): the core loss speaking the OpenMMLab loss protocol;
- ``BackgroundPrior`` (``WEIGHT_INITIALIZERS``): starts a softmax classifier at a background prior;
- ``ExactResumeHook`` (``HOOKS``): a killed run resumed with ``--resume`` ends where an
  uninterrupted one does (``resumption``).

Importing it also lets ``torch.load(weights_only=True)`` read the checkpoints mmengine's Runner
writes (torch >= 2.6 loads weights-only and mmengine 0.10.7 passes nothing, so mmdet's and mmseg's
own ``tools/test.py``, ``--resume`` and ``load_from`` refused them: ``Unsupported global ...
HistoryBuffer``). The allow-list (``checkpoints.allow_mmengine_checkpoints``) admits exactly the
types mmengine writes, never ``weights_only=False``; a config's ``custom_imports`` runs it.

Also here: ``alpha=dict(type='class_balanced', ...)`` resolved from an annotation file or label
maps (``alpha_specs``, with ``imbalanced_losses.statistics``).
"""
import importlib.util

if importlib.util.find_spec("mmengine") is None:
    raise ImportError("imbalanced_losses' OpenMMLab integration needs mmengine, which is not installed: "
                      "pip install 'imbalanced-losses[mmdet]' (detection) or 'imbalanced-losses[mmseg]' (segmentation)")

from ..statistics.label_maps import class_counts_from_label_maps  # noqa: E402
from .checkpoints import allow_mmengine_checkpoints  # noqa: E402, I001
from .initializers import BackgroundPriorInit  # noqa: E402  (after the check: a one-line error, not a traceback)
from .losses import MMDetSoftmaxFocalLoss, OpenMMLabSoftmaxFocalLoss  # noqa: E402  (the first: the old name)
from .resumption import ExactResumeHook  # noqa: E402

allow_mmengine_checkpoints()  # mmdet's and mmseg's own tools: test.py, --resume, load_from

__all__ = ["BackgroundPriorInit", "ExactResumeHook", "MMDetSoftmaxFocalLoss", "OpenMMLabSoftmaxFocalLoss",
           "allow_mmengine_checkpoints", "class_counts_from_label_maps"]
