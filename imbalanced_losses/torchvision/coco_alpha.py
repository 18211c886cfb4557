"""Class-balanced alpha for torchvision's detection models, read from a COCO-format training file.

torchvision's detection models use the files' category ids as labels and 0 as the background
(``num_classes`` = the largest id + 1, COCO's 91 with its gaps): alpha is indexed the same way.
"""
import torch

from ..checks.scalars import check_int
from ..statistics.class_balance import class_balanced_alpha
from ..statistics.coco import counts_by_category_id


def coco_class_balanced_alpha(ann_file, beta=0.999, mean=1.0, background_weight=None, count="instances",
                              num_classes=None):
    """``alpha`` (num_classes,) for ``softmax_retinanet`` / ``softmax_focal_roi_heads`` from a training file.

    The file's categories get ``class_balanced_alpha(counts, beta, mean)`` (mean ``mean`` over them)
    at their ids; the background (label 0) gets ``background_weight`` (default ``mean``); ids no
    category uses (never a target, so their factor is never read) get ``mean``.

    Args:
        ann_file (str): the COCO-format training annotation file (read as JSON, untrusted).
        beta, mean, background_weight: as ``imbalanced_losses.class_balanced_alpha``.
        count (str): 'instances' (non-crowd boxes) or 'images' holding the class.
        num_classes (int | None): the model's ``num_classes``; default the largest id + 1.
    """
    counts = counts_by_category_id(ann_file, count)
    if not counts:
        raise ValueError(f"{ann_file} has no categories")
    if min(counts) < 1:
        raise ValueError(f"{ann_file} has a category with id {min(counts)}: torchvision's detection models use "
                         "label 0 for the background, so category ids must be >= 1")
    if num_classes is not None and not check_int("num_classes", num_classes) > max(counts):
        raise ValueError(f"num_classes must be an int > {max(counts)} (the largest category id of {ann_file}), "
                         f"got {num_classes!r}")
    empty = [i for i, n in counts.items() if n == 0]
    if empty:
        raise ValueError(f"{ann_file}: categories {empty[:10]} have no training {count} (class-balanced alpha "
                         "needs at least one per class)")
    # K + 1 factors, the background's first, then the categories in file order
    weights = class_balanced_alpha(list(counts.values()), beta=beta, mean=mean, background_class=0,
                                   background_weight=background_weight)
    alpha = torch.full((max(counts) + 1 if num_classes is None else num_classes,), float(mean))
    alpha[0] = weights[0]
    alpha[list(counts)] = weights[1:]
    return alpha
