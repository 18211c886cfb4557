"""What every backend returns. What it receives besides the tensors is the caller's ``LossOptions``
(``options.py``), unchanged."""
from typing import Any, NamedTuple, Optional

from torch import Tensor


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
