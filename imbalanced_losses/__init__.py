"""Imbalanced-classification losses for PyTorch. The core needs only torch (Triton optional)."""
from .checks.device import raise_deferred_errors
from .focal_loss import SoftmaxFocalLoss, softmax_focal_loss
from .options import LossOptions
from .statistics.class_balance import class_balanced_alpha, median_frequency_alpha

__all__ = ["LossOptions", "SoftmaxFocalLoss", "class_balanced_alpha", "median_frequency_alpha", "raise_deferred_errors",
           "softmax_focal_loss"]
__version__ = "0.2.0"
