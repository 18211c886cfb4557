"""What every backend receives and returns, and the plan of one call."""
from typing import Any, NamedTuple, Optional

from torch import Tensor


class BackwardParams(NamedTuple):
    """What a backend's backward reads besides its saved state."""
    label_smoothing: float
    ignore_index: int


class FocalParams(NamedTuple):
    """The loss's options that the math reads, already checked (``options.LossOptions``)."""
    gamma: float
    label_smoothing: float
    ignore_index: int
    background_class: int

    def backward(self) -> BackwardParams:
        return BackwardParams(self.label_smoothing, self.ignore_index)


class Counts:
    """The two denominators of a reduced loss, as backends return them: one (2,) tensor holding
    the valid positions at ``VALID`` and the valid positions not of the background class at
    ``POSITIVE``."""
    VALID = 0
    POSITIVE = 1


class ForwardResult(NamedTuple):
    """A backend's forward: the loss per position (or its 0-d sum with ``reduce``), the (2,)
    counts (valid positions, valid non-background positions; None without ``reduce``) and the
    backend's own saved state for its backward (None without ``with_grad``). The counts' order is
    ``Counts``'s."""
    loss: Tensor
    counts: Optional[Tensor]
    saved: Optional[Any]


class CallPlan(NamedTuple):
    """How one call runs, decided once before the operator: the math's parameters, the backend's
    name (resolved for the tensors inside the operator), whether the loss is summed there, how the
    target and alpha values are checked, and whether alpha's values still need checking."""
    params: FocalParams
    backend: str
    reduce: bool
    checks: Any  # checks.CheckPolicy
    check_alpha: bool
