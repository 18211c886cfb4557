"""Imbalanced-classification losses for PyTorch. The core needs only torch."""
from .class_balance import class_balanced_alpha
from .focal_loss import SoftmaxFocalLoss, softmax_focal_loss

__all__ = ["SoftmaxFocalLoss", "class_balanced_alpha", "softmax_focal_loss"]
__version__ = "0.1.0"
