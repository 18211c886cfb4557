"""torchvision detection models with the softmax focal loss (the ``torchvision`` extra):

- ``SoftmaxRetinaNetClassificationHead`` and ``softmax_retinanet(model, ...)``: a RetinaNet whose
  classification head is a (K + 1)-way softmax, background at column 0, trained with our loss
  normalised by the global number of positive anchors (no per-image host sync);
- ``SoftmaxFocalRoIHeads`` and ``softmax_focal_roi_heads(model, ...)``: Faster R-CNN RoI heads
  whose box classification loss is ours;
- ``coco_class_balanced_alpha(ann_file, ...)``: class-balanced alpha indexed by category id, the
  background at 0, from a COCO-format training file.

Neither imports an OpenMMLab package.
"""
import importlib.util

if importlib.util.find_spec("torchvision") is None:
    raise ImportError("imbalanced_losses.torchvision needs torchvision, which is not installed: "
                      "pip install 'imbalanced-losses[torchvision]'")

from .coco_alpha import coco_class_balanced_alpha  # noqa: E402
from .retinanet import SoftmaxRetinaNetClassificationHead, softmax_retinanet  # noqa: E402
from .roi_heads import SoftmaxFocalRoIHeads, softmax_focal_roi_heads  # noqa: E402

__all__ = ["SoftmaxFocalRoIHeads", "SoftmaxRetinaNetClassificationHead", "coco_class_balanced_alpha",
           "softmax_focal_roi_heads", "softmax_retinanet"]
