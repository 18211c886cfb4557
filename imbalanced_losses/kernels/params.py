"""What every backend receives."""
from typing import NamedTuple


class FocalParams(NamedTuple):
    """The loss's options, already checked by ``focal_loss.py``."""
    gamma: float
    label_smoothing: float
    ignore_index: int
    background_class: int
