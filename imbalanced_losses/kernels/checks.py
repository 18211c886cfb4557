"""The value checks of targets and alpha, run where the loss runs (inside its op, where the
compiler does not trace): immediate, with one host sync that buys a clear error at the offending
call (CPU, or ``sync_checks=True``), or deferred to the device without a sync (``device_checks``)."""
import torch


def check_target_values(targets, num_classes, ignore_index):
    bad = ((targets < 0) | (targets >= num_classes)) & (targets != ignore_index)
    if bool(bad.any()):
        value = targets[bad].flatten()[0].item()
        raise ValueError(f"targets must be in [0, {num_classes}) or equal ignore_index={ignore_index}, "
                         f"got {value}")


def check_alpha_values(alpha):
    if alpha.numel() and not bool(torch.isfinite(alpha).all()):
        raise ValueError(f"alpha must be finite, got {alpha.tolist()}")
    if alpha.numel() and bool((alpha < 0).any()):
        raise ValueError(f"alpha must be non-negative, got {alpha.tolist()}")
