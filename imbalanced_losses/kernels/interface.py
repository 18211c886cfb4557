"""The backend contract, as code: what every backend is (``Backend``), receives and returns.

A backend receives the tensors, the call's per-class tensors (``class_factors.ClassFactors``, on
the logits' device in the loss's dtype) and the caller's ``LossOptions`` (``options.py``),
unchanged: it reads the fields its formulas need. ``backend_registry.py`` names the backends;
``kernels.select`` picks one per call; ``loss_op.py`` runs it with the value checks.
"""
from typing import Any, List, NamedTuple, Optional, Protocol, Tuple, Type, runtime_checkable

from torch import Tensor

# A backend's saved state crosses the custom op as one (SAVED_PLANES, *targets.shape) tensor of the
# loss's dtype: per position, the row's log-sum-exp (or max) and three gradient coefficients.
SAVED_PLANES = 4


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


class SavedState(Protocol):
    """A backend's saved state (a NamedTuple of tensors): ``pack`` gives the one tensor a custom op
    returns, ``unpack`` rebuilds the state from it."""

    def pack(self, shape: Tuple[int, ...]) -> Tensor:
        """One (SAVED_PLANES, *shape) tensor (``shape``: the targets')."""

    @classmethod
    def unpack(cls, tensor: Tensor) -> "SavedState":
        """The state from ``pack``'s tensor."""


@runtime_checkable
class Backend(Protocol):
    """A backend of the loss (``<module>.BACKEND``, registered in ``backend_registry.py``).

    name: its registry name.
    Saved: its saved-state type (``SavedState``).
    checks_targets: True where its kernel flags bad targets and alpha values on the device itself
        (``checks/device.py``); False: ``loss_op`` records them beside it.
    """
    name: str
    Saved: Type[SavedState]
    checks_targets: bool

    def not_supported_reasons(self, logits: Tensor) -> List[str]:
        """Why it cannot run on these logits; empty where it can."""

    def compute_forward(self, logits: Tensor, targets: Tensor, factors: Any, weight: Optional[Tensor], options: Any,
                        reduce: bool, with_grad: bool) -> ForwardResult:
        """The loss per position shaped like the targets (the loss's dtype: float32, or float64 for
        float64 logits), or with ``reduce`` its 0-d sum and the counts; a ``Saved`` with ``with_grad``.
        ``factors``: a ``ClassFactors`` on the logits' device; ``options``: a ``LossOptions``."""

    def compute_backward(self, logits: Tensor, targets: Tensor, saved: Any, grad_loss: Tensor,
                         options: Any) -> Tensor:
        """The gradient with respect to the logits, in their dtype (``grad_loss``: per position, or 0-d)."""
