"""Bad targets and alpha values found on the device without a host sync, raised at the next call.

On CUDA, checking that every target lies in [0, C) before computing costs a host sync each call.
By default the loss instead treats such a target as ignored (zero loss, zero gradient) and raises
a flag on the device: the Triton kernels write it as they read the targets, the eager and compile
backends with two small tensor operations. After each call the flags are copied to pinned host
memory asynchronously, behind a CUDA event; the next call on that device whose event has
completed (usually the next iteration) raises the ValueError naming the value, and
``raise_deferred_errors()`` raises it at once (it waits for the device). The same holds for alpha
passed per call as a CUDA tensor: a negative or non-finite value is reported, not used.
``sync_checks=True`` checks before computing, at the cost of the sync.

Flags per device, int64: [bad target seen, a bad target value, bad alpha seen, its class].
"""
import torch

_states = {}


class _DeviceFlags:
    def __init__(self, device):
        self.flags = torch.zeros(4, dtype=torch.int64, device=device)
        self.on_cuda = device.type == "cuda"
        self.host = torch.zeros(4, dtype=torch.int64, pin_memory=self.on_cuda) if self.on_cuda else None
        self.event = torch.cuda.Event() if self.on_cuda else None
        self.recorded = False
        self.context = ""  # what the latest call checked, for the message


def _state(device):
    key = str(device)
    if key not in _states:
        _states[key] = _DeviceFlags(device)
    return _states[key]


def flags(device):
    """The device's flag tensor, for kernels to write."""
    return _state(device).flags


def record_targets(targets, num_classes, ignore_index):
    """Flag targets outside [0, C) that are not ignore_index (tensor operations, no sync)."""
    if targets.numel() == 0:
        return
    state = _state(targets.device)
    bad = (targets != ignore_index) & ((targets < 0) | (targets >= num_classes))
    seen = bad.any()
    value = torch.where(bad, targets.long(), torch.iinfo(torch.int64).min).amax()
    state.flags[1] = torch.where(seen, value, state.flags[1])
    state.flags[0] |= seen


def checked_alpha(alpha):
    """Flag negative or non-finite alpha values (no sync) and return alpha with them zeroed."""
    state = _state(alpha.device)
    bad = ~((alpha >= 0) & (alpha < float("inf")))  # NaN fails both comparisons
    seen = bad.any()
    state.flags[3] = torch.where(seen, bad.int().argmax(), state.flags[3])
    state.flags[2] |= seen
    return alpha.masked_fill(bad, 0)


def after_call(device, num_classes, ignore_index):
    """Start the asynchronous copy of the flags to the host (CUDA), behind an event."""
    state = _state(device)
    state.context = f"C = {num_classes} and ignore_index = {ignore_index} in the latest call"
    if state.on_cuda:
        state.host.copy_(state.flags, non_blocking=True)
        state.event.record(torch.cuda.current_stream(device))
        state.recorded = True


def raise_pending(device, wait=False):
    """Raise the ValueError for flags the device has raised, where its copy has arrived (no sync
    unless ``wait``); the flags are cleared first."""
    state = _states.get(str(device))
    if state is None:
        return
    if state.on_cuda:
        if not state.recorded:
            return
        if wait:
            state.event.synchronize()
        elif not state.event.query():
            return
        values = state.host.tolist()
    else:
        values = state.flags.tolist()
    if values[0] or values[2]:
        state.flags.zero_()
        if state.host is not None:
            state.host.zero_()
        if values[0]:
            raise ValueError(f"targets must be in [0, C) or equal ignore_index, got {values[1]} in an earlier call "
                             f"on {device} ({state.context}); it was computed as ignored there. Pass "
                             "sync_checks=True to raise in the offending call")
        raise ValueError(f"alpha must be finite and non-negative, got a bad value at alpha[{values[3]}] in an "
                         f"earlier call on {device}; it was used as 0 there. Pass sync_checks=True to raise in the "
                         "offending call")


def raise_deferred_errors():
    """Raise now (waiting for the devices) the ValueError a later call would raise for bad targets
    or alpha values seen so far without a host sync; do nothing if there were none."""
    for key in list(_states):
        raise_pending(torch.device(key), wait=True)
