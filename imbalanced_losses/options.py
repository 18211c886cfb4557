"""The loss's options: one frozen object of scalars, checked when it is built, carried unchanged
from the API to the backends (flattened into scalars only at the custom op's boundary, from its
fields: ``loss_op.py``); the per-class tensors travel beside it (``class_factors.py``). Adding an
option: docs/guides/development.md, "Adding an option".

The public signatures (the functional form and the module) write these defaults as literals, so
that editors and the API reference show the values; tests/core/test_options.py keeps them equal."""
import dataclasses
from typing import Optional

from . import backend_registry
from .backend_registry import CHOICES as BACKENDS  # noqa: F401 - still importable from here
from .checks.scalars import check_flag, check_int, check_number, non_negative

REDUCTIONS = ("none", "mean", "sum", "mean_positive")


@dataclasses.dataclass(frozen=True)
class LossOptions:
    """The options of ``softmax_focal_loss`` / ``SoftmaxFocalLoss`` (their meaning is documented
    there, in ``softmax_focal_loss``'s Args), checked when built: a bad value raises
    ``TypeError``/``ValueError`` naming it, so a ``LossOptions`` that exists is valid.
    ``replace(**changes)`` checks the changed copy again."""
    gamma: float = 2.0
    reduction: str = "mean"
    label_smoothing: float = 0.0
    ignore_index: int = -100
    background_class: int = 0
    gather_distributed: Optional[bool] = None
    backend: str = "auto"
    sync_checks: bool = False

    def __post_init__(self):
        gamma = check_number("gamma", self.gamma, "a real number >= 0", non_negative)
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {self.reduction!r}")
        smoothing = check_number("label_smoothing", self.label_smoothing, "a real number in [0, 1]",
                                 lambda number: 0.0 <= number <= 1.0)
        check_flag("gather_distributed", self.gather_distributed, allow_none=True)
        check_flag("sync_checks", self.sync_checks)
        if self.backend != backend_registry.AUTO and self.backend not in backend_registry.REGISTRY:
            raise ValueError(f"backend must be one of {backend_registry.choices()}, got {self.backend!r}")
        normalised = dict(gamma=gamma, label_smoothing=smoothing,
                          ignore_index=check_int("ignore_index", self.ignore_index),
                          background_class=check_int("background_class", self.background_class))
        for name, value in normalised.items():  # frozen: the checked, plain-typed values
            object.__setattr__(self, name, value)

    @classmethod
    def from_arguments(cls, compile=False, **options):
        """The options of a call or constructor; ``compile=True`` is the 0.1 spelling of
        ``backend='compile'``."""
        check_flag("compile", compile)
        if compile:
            backend = options.get("backend", cls.backend)
            if backend not in ("auto", "compile"):
                raise ValueError(f"compile=True means backend='compile', but backend={backend!r} was also given")
            options["backend"] = "compile"
        return cls(**options)

    def replace(self, **changes):
        """A copy with ``changes``, checked again."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of_checked_values(cls, values):
        """``LossOptions(*values)`` for values that a ``LossOptions`` already checked (``values()``'s,
        crossing the custom ops): the same object, without checking them again on every call."""
        options = object.__new__(cls)
        for name, value in zip(OPTION_NAMES, values):
            object.__setattr__(options, name, value)
        return options

    def values(self):
        """The fields' values in their order (what the custom op's schema carries); ``LossOptions(*values)``
        rebuilds the object."""
        return tuple(getattr(self, name) for name in OPTION_NAMES)


OPTION_NAMES = tuple(field.name for field in dataclasses.fields(LossOptions))
