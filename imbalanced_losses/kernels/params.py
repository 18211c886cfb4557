"""What every backend receives and the eager/compile backends keep for backward."""
from typing import NamedTuple, Optional, Tuple

from torch import Tensor


class FocalParams(NamedTuple):
    """The loss's options, already checked by ``focal_loss.py``."""
    gamma: float
    label_smoothing: float
    ignore_index: int
    background_class: int


class Saved(NamedTuple):
    """Per-position tensors the eager and compile backends keep between forward and backward."""
    index: Tensor  # target class, 0 where invalid
    coefficients: Tuple[Tensor, Tensor, Optional[Tensor], Tensor]  # row_max, coef_p, coef_const, coef_target
