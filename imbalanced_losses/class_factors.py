"""The loss's per-class tensors, carried together beside ``LossOptions``: ``alpha`` today (a per-class
gamma would be the next field). ``LossOptions`` holds scalars checked when built; a ``ClassFactors``
holds tensors, whose values are checked once: here for host numbers (a list), by the caller (the
module's buffer, at construction), or else by the loss's operator (``loss_op.py``) on the device,
as the targets are. ``checked`` says which: True when no one needs to check them again.

``on_device`` moves them once per call to the logits' device, as contiguous tensors of the loss's
dtype (float32, or float64 for float64 logits), which is how every backend reads them.
"""
import collections
from typing import NamedTuple, Optional

import torch
from torch import Tensor

from .checks import host as checks


class ClassFactors(NamedTuple):
    """Per-class tensors of shape (C,) (None: not given) and whether their values are checked."""
    alpha: Optional[Tensor] = None
    checked: bool = True  # False: the loss's operator checks the values (a tensor the caller passed)

    @classmethod
    def from_arguments(cls, alpha=None, check_now=False):
        """The factors of a call or constructor: types and shape checked here; a list's values too
        (host numbers: no sync); a tensor's values here with ``check_now`` (a host sync on CUDA),
        else by the loss's operator."""
        if alpha is None:
            return NO_FACTORS
        tensor = as_class_tensor("alpha", alpha)
        if not isinstance(alpha, Tensor):
            checks.check_alpha_numbers(alpha)
            return cls(tensor, checked=True)
        if check_now:
            checks.check_alpha_values(tensor)
        return cls(tensor, checked=check_now)

    def check_classes(self, num_classes):
        """Each tensor's length against the logits' C."""
        for name in TENSOR_FIELDS:
            tensor = getattr(self, name)
            if tensor is not None and tensor.shape != (num_classes,):
                raise ValueError(f"{name} must have shape ({num_classes},) to match inputs' C = {num_classes}, "
                                 f"got {tuple(tensor.shape)}")

    def on_device(self, device, dtype):
        """The factors as the backends read them: contiguous, of ``dtype``, on ``device`` (a CPU
        tensor's copy is made once per device and values, then reused: ``device_copy``). Itself
        where every tensor already is (every call: a plain loop, no new object)."""
        moved = None
        for name in TENSOR_FIELDS:
            tensor = getattr(self, name)
            if tensor is not None:
                copy = device_copy(tensor, device, dtype)
                if copy is not tensor:
                    moved = dict(moved or {}, **{name: copy})
        return self if moved is None else self._replace(**moved)


TENSOR_FIELDS = tuple(name for name, kind in ClassFactors.__annotations__.items() if kind == Optional[Tensor])
NO_FACTORS = ClassFactors()


def as_class_tensor(name, values):
    """A 1-D float tensor of per-class values from a tensor (detached; integers made float) or a
    list of real numbers; TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(values, Tensor):
        if values.is_complex() or values.dtype == torch.bool:
            raise TypeError(f"{name} must be a real tensor, got dtype {values.dtype}")
        tensor = values.detach()
        if not tensor.is_floating_point():
            tensor = tensor.float()
    elif isinstance(values, (list, tuple)):
        try:
            tensor = torch.tensor(values, dtype=torch.float32)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a list of real numbers, got {values!r}") from error
    else:
        raise TypeError(f"{name} must be None, a 1-D tensor or a list of floats, got {type(values).__name__}")
    if tensor.dim() != 1:
        raise ValueError(f"{name} must be 1-D of shape (C,), got shape {tuple(tensor.shape)}")
    return tensor


_DEVICE_COPIES = collections.OrderedDict()  # (device, dtype, values) -> the copy on that device
_DEVICE_COPIES_KEPT = 16


def device_copy(tensor, device, dtype):
    """``tensor`` contiguous, of ``dtype``, on ``device``. A CPU tensor (a list's, or one the caller
    did not move) is copied once per device, dtype and values, then reused: a copy from pageable
    host memory stalls the host at every call, and a CUDA graph capture forbids it (call once
    before capturing)."""
    if tensor.device == device or tensor.device.type != "cpu":
        return tensor.to(device=device, dtype=dtype).contiguous()
    key = (str(device), dtype, tuple(tensor.tolist()))  # host values: reading them costs no device sync
    copy = _DEVICE_COPIES.get(key)
    if copy is None:
        if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
            raise RuntimeError(f"alpha is on the CPU and was not used on {device} before this CUDA graph capture: "
                               "its copy to the device cannot be captured; move alpha to the device, or run the "
                               "step once before capturing")
        copy = _DEVICE_COPIES[key] = tensor.to(device=device, dtype=dtype).contiguous()
        if len(_DEVICE_COPIES) > _DEVICE_COPIES_KEPT:
            _DEVICE_COPIES.popitem(last=False)
    else:
        _DEVICE_COPIES.move_to_end(key)
    return copy
