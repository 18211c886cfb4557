"""Bad targets and alpha values found on the device without a host sync, raised at a later call.

On CUDA, checking that every target lies in [0, C) before computing costs a host sync each call.
By default the loss instead treats such a target as ignored (zero loss, zero gradient) and raises
a flag on the device: the Triton kernels write it as they read the targets, the eager and compile
backends with two small tensor operations. After each call the flags are copied to pinned host
memory asynchronously, behind a CUDA event; the next call on that device whose event has
completed (usually the next iteration) raises the ValueError naming the value, and
``raise_deferred_errors()`` raises it at once (it waits for the device). The same holds for alpha
passed per call as a CUDA tensor: a negative or non-finite value is reported, not used.
``sync_checks=True`` checks before computing, at the cost of the sync.

CUDA graphs (``torch.cuda.graph``, ``torch.compile(mode='reduce-overhead')``): while a stream is
capturing, only the flag writes are recorded (no copy, no event, no query, which capture forbids).
Every replay then updates the flags on the device; the next call outside a graph copies them, and
``raise_deferred_errors()`` reads them after synchronising the device. Run one step before
capturing (as CUDA graphs need anyway), so that the flags are allocated outside the graph's pool.

One int64 flag tensor per device, its slots named by ``Slot``.
"""
import enum

import torch


class Slot(enum.IntEnum):
    TARGET_SEEN = 0  # a target outside [0, C) that is not ignore_index was seen
    TARGET_VALUE = 1  # one such value
    ALPHA_SEEN = 2  # a negative or non-finite alpha value was selected
    ALPHA_CLASS = 3  # its class


_states = {}


class _DeviceFlags:
    def __init__(self, device):
        self.flags = torch.zeros(len(Slot), dtype=torch.int64, device=device)
        self.on_cuda = device.type == "cuda"
        self.host = None  # CUDA: pinned copy and its event, made at the first call outside a graph
        self.event = None
        self.recorded = False
        self.context = ""  # what the latest call checked, for the message


def _state(device):
    key = str(device)
    if key not in _states:
        _states[key] = _DeviceFlags(device)
    return _states[key]


def _capturing(state):
    return state.on_cuda and torch.cuda.is_current_stream_capturing()


def flags(device):
    """The device's flag tensor, for kernels to write."""
    return _state(device).flags


def record_targets(targets, num_classes, ignore_index):
    """Flag targets outside [0, C) that are not ignore_index (tensor operations, no sync)."""
    if targets.numel() == 0:
        return
    flag = _state(targets.device).flags
    bad = (targets != ignore_index) & ((targets < 0) | (targets >= num_classes))
    seen = bad.any()
    value = torch.where(bad, targets.long(), torch.iinfo(torch.int64).min).amax()
    flag[Slot.TARGET_VALUE] = torch.where(seen, value, flag[Slot.TARGET_VALUE])
    flag[Slot.TARGET_SEEN] |= seen


def checked_alpha(alpha):
    """Flag negative or non-finite alpha values (no sync) and return alpha with them zeroed."""
    flag = _state(alpha.device).flags
    bad = ~((alpha >= 0) & (alpha < float("inf")))  # NaN fails both comparisons
    seen = bad.any()
    flag[Slot.ALPHA_CLASS] = torch.where(seen, bad.int().argmax(), flag[Slot.ALPHA_CLASS])
    flag[Slot.ALPHA_SEEN] |= seen
    return alpha.masked_fill(bad, 0)


def after_call(device, num_classes, ignore_index):
    """Start the asynchronous copy of the flags to the host (CUDA), behind an event; nothing while
    capturing a graph (its replays update the flags on the device)."""
    state = _state(device)
    state.context = f"C = {num_classes} and ignore_index = {ignore_index} in the latest call"
    if not state.on_cuda or _capturing(state):
        return
    if state.host is None:
        state.host = torch.zeros(len(Slot), dtype=torch.int64, pin_memory=True)
        state.event = torch.cuda.Event()
    state.host.copy_(state.flags, non_blocking=True)
    state.event.record(torch.cuda.current_stream(device))
    state.recorded = True


def raise_pending(device, wait=False):
    """Raise the ValueError for flags the device has raised, where its copy has arrived (no sync
    unless ``wait``: then the device is synchronised and its flags read, which also sees the writes
    of replayed graphs); the flags are cleared first. Nothing while capturing a graph."""
    state = _states.get(str(device))
    if state is None or _capturing(state):
        return
    if state.on_cuda and wait:
        torch.cuda.synchronize(device)
        values = state.flags.tolist()
    elif state.on_cuda:
        if not state.recorded or not state.event.query():
            return
        values = state.host.tolist()
    else:
        values = state.flags.tolist()
    if values[Slot.TARGET_SEEN] or values[Slot.ALPHA_SEEN]:
        state.flags.zero_()
        if state.host is not None:
            state.host.zero_()
        if values[Slot.TARGET_SEEN]:
            raise ValueError(f"targets must be in [0, C) or equal ignore_index, got {values[Slot.TARGET_VALUE]} in "
                             f"an earlier call on {device} ({state.context}); it was computed as ignored there. Pass "
                             "sync_checks=True to raise in the offending call")
        raise ValueError(f"alpha must be finite and non-negative, got a bad value at alpha[{values[Slot.ALPHA_CLASS]}] "
                         f"in an earlier call on {device}; it was used as 0 there. Pass sync_checks=True to raise in "
                         "the offending call")


def raise_deferred_errors():
    """Raise now (waiting for the devices) the ValueError a later call would raise for bad targets
    or alpha values seen so far without a host sync (also inside replayed CUDA graphs); do nothing
    if there were none."""
    for key in list(_states):
        raise_pending(torch.device(key), wait=True)
