"""The value checks of targets and alpha, run where the loss runs (inside its op, where the
compiler does not trace), and the policy that says how: immediate, with one host sync that buys a
clear error at the offending call (CPU, or ``sync_checks=True``), or deferred to the device without
a sync (CUDA by default; ``device_checks``). Alpha given as numbers is checked as numbers (no
tensor read, nothing for the compiler to trace)."""
import enum
import math

import torch


class CheckPolicy(enum.Enum):
    IMMEDIATE = "immediate"  # check, then compute: a host sync, the ValueError in this call
    DEFERRED = "deferred"  # flag on the device while computing: no sync, the ValueError at a later call

    @classmethod
    def for_call(cls, device, sync_checks):
        """The one place that decides it: deferred on CUDA unless ``sync_checks``."""
        return cls.DEFERRED if device.type == "cuda" and not sync_checks else cls.IMMEDIATE


def check_target_values(targets, num_classes, ignore_index):
    bad = ((targets < 0) | (targets >= num_classes)) & (targets != ignore_index)
    if bool(bad.any()):
        value = targets[bad].flatten()[0].item()
        raise ValueError(f"targets must be in [0, {num_classes}) or equal ignore_index={ignore_index}, "
                         f"got {value}")


def check_alpha_values(alpha):
    """A tensor's values (one host sync)."""
    if alpha.numel() and not (bool(torch.isfinite(alpha).all()) and not bool((alpha < 0).any())):
        check_alpha_numbers(alpha.tolist())


def check_alpha_numbers(values):
    """Python numbers: finite and non-negative."""
    values = [float(v) for v in values]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"alpha must be finite, got {values}")
    if any(v < 0 for v in values):
        raise ValueError(f"alpha must be non-negative, got {values}")
