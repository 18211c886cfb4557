"""The loss's options: one frozen object, checked when it is built. The public signatures (the
functional form, the module, the OpenMMLab adapter) write these defaults as literals, so that
editors and the API reference show the values; tests/core/test_options.py keeps them equal."""
import dataclasses
from typing import Optional

from . import kernels
from .kernels.params import FocalParams
from .validators import check_flag, check_int, check_real

REDUCTIONS = ("none", "mean", "sum", "mean_positive")


@dataclasses.dataclass(frozen=True)
class LossOptions:
    """The options of ``softmax_focal_loss`` / ``SoftmaxFocalLoss`` (their meaning is documented
    there), checked when built: a bad value raises ``TypeError``/``ValueError`` naming it, so a
    ``LossOptions`` that exists is valid. ``replace(**changes)`` checks the changed copy again.

    Attributes:
        gamma (float): focusing exponent >= 0.
        reduction (str): 'none' | 'sum' | 'mean' | 'mean_positive'.
        label_smoothing (float): epsilon in [0, 1].
        ignore_index (int): target value with zero loss and zero gradient.
        background_class (int): class left out of the 'mean_positive' denominator.
        gather_distributed (bool | None): global statistics across torch.distributed ranks.
        backend (str): 'auto' | 'eager' | 'compile' | 'triton'.
        sync_checks (bool): check target values before computing on CUDA too (a host sync).
    """
    gamma: float = 2.0
    reduction: str = "mean"
    label_smoothing: float = 0.0
    ignore_index: int = -100
    background_class: int = 0
    gather_distributed: Optional[bool] = None
    backend: str = "auto"
    sync_checks: bool = False

    def __post_init__(self):
        gamma = check_real("gamma", self.gamma, "a real number >= 0")
        if not gamma >= 0:  # also catches NaN
            raise ValueError(f"gamma must be >= 0, got {self.gamma!r}")
        if self.reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {self.reduction!r}")
        smoothing = check_real("label_smoothing", self.label_smoothing, "a real number in [0, 1]")
        if not 0.0 <= smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {self.label_smoothing!r}")
        check_flag("gather_distributed", self.gather_distributed, allow_none=True)
        check_flag("sync_checks", self.sync_checks)
        kernels.check_name(self.backend)
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

    def kernel_params(self):
        """What every backend receives."""
        return FocalParams(self.gamma, self.label_smoothing, self.ignore_index, self.background_class)


OPTION_NAMES = tuple(field.name for field in dataclasses.fields(LossOptions))
