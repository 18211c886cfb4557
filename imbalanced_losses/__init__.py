"""Imbalanced-classification losses for PyTorch. The core needs only torch."""
from .focal_loss import SoftmaxFocalLoss, softmax_focal_loss

__all__ = ["SoftmaxFocalLoss", "softmax_focal_loss"]
__version__ = "0.1.0"
