"""Which GPUs ``backend='auto'`` trusts with the hand-written Triton kernels: those a committed
verification record covers.

Triton's interpreter (the CPU tests) runs the kernels one program after another on numpy: it
hides races, int32 wrap-around at large shapes, the current-device mismatch and the hardware's
approximations of ``exp``/``log``. So the kernels are taken by default only where a real GPU has
run ``make gpu-check`` to the end: its exactness tests passed, and it wrote a record (device,
compute capability, driver, CUDA, torch and Triton versions, date, the tests it ran, the benchmark
ratios) into ``verified_gpus.json`` beside this file, which is committed with the code. A record
covers an NVIDIA GPU (sm_80 or newer) of the same compute capability with the same Triton
major.minor version, and only where its benchmark found the kernels no slower than the eager
backend at every shape it timed (``auto_takes_triton``; else the record says where Triton was slower
and ``auto`` keeps eager on that GPU).
Everywhere else ``auto`` runs the eager backend (the same formulas); ``backend='triton'`` opts in.
"""
import functools
import json
import os
from typing import NamedTuple, Optional, Tuple

from ..versions import version_prefix  # (tools and tests also import it from here)

RECORDS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "verified_gpus.json")
MIN_CAPABILITY = (8, 0)  # the kernels' tiles and the ahead-of-time check target sm_80 and newer
RECORD_FIELDS = ("device", "compute_capability", "driver", "cuda", "torch", "triton", "date", "tests", "sanitizer",
                 "benchmark", "ratios", "triton_slower_than_eager", "auto_takes_triton")


class GpuIdentity(NamedTuple):
    """What the policy needs to know of a device: its vendor ('nvidia' or 'amd'), its compute
    capability (major, minor) and its name (for messages)."""
    vendor: str
    capability: Tuple[int, int]
    name: str


def capability_text(capability: Tuple[int, int]) -> str:
    return f"{capability[0]}.{capability[1]}"


@functools.lru_cache(maxsize=None)
def load_records(path: str = RECORDS_PATH):
    """The committed records: a JSON list of objects with ``RECORD_FIELDS``."""
    try:
        with open(path) as f:
            records = json.load(f)
    except (OSError, ValueError) as error:
        raise RuntimeError(f"{path}: cannot read the GPU verification records ({error})") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RuntimeError(f"{path}: expected a JSON list of records (objects), got {type(records).__name__}")
    for index, record in enumerate(records):
        missing = [field for field in RECORD_FIELDS if field not in record]
        if missing:
            raise RuntimeError(f"{path}: record {index} lacks {', '.join(missing)}")
        if record["auto_takes_triton"] is not (not record["triton_slower_than_eager"]):
            raise RuntimeError(f"{path}: record {index} has auto_takes_triton={record['auto_takes_triton']!r} with "
                               f"triton_slower_than_eager={record['triton_slower_than_eager']!r}")
    return tuple(records)


def matching_record(identity: GpuIdentity, triton_version: str, records) -> Optional[dict]:
    """The first record of this GPU's compute capability and Triton major.minor (NVIDIA, sm_80 and
    newer), whatever its benchmark found, or None."""
    if identity.vendor != "nvidia" or tuple(identity.capability) < MIN_CAPABILITY:
        return None
    wanted = (capability_text(identity.capability), version_prefix(triton_version))
    for record in records:
        if (str(record["compute_capability"]), version_prefix(str(record["triton"]))) == wanted:
            return record
    return None


def covering_record(identity: GpuIdentity, triton_version: str, records) -> Optional[dict]:
    """The record that lets ``auto`` take the kernels on this GPU and Triton version, or None."""
    record = matching_record(identity, triton_version, records)
    return record if record is not None and record["auto_takes_triton"] is True else None


def unverified_reason(identity: GpuIdentity, triton_version: str, records) -> Optional[str]:
    """Why ``auto`` does not take the Triton kernels on this GPU (None: a record covers it)."""
    if covering_record(identity, triton_version, records) is not None:
        return None
    record = matching_record(identity, triton_version, records)
    if record is not None:
        return (f"the verification record of {record['device']} ({record['date']}) found the Triton kernels slower "
                f"than eager at {', '.join(record['triton_slower_than_eager'])}, so auto keeps eager there")
    if identity.vendor != "nvidia":
        return f"the kernels are verified on NVIDIA GPUs only, this is {identity.name} ({identity.vendor})"
    if tuple(identity.capability) < MIN_CAPABILITY:
        return (f"{identity.name} has compute capability {capability_text(identity.capability)}; the kernels are "
                f"built for {capability_text(MIN_CAPABILITY)} and newer")
    triton = ".".join(map(str, version_prefix(triton_version)))
    return (f"no committed GPU verification record covers {identity.name} (compute capability "
            f"{capability_text(identity.capability)}) with Triton {triton} (make gpu-check writes one)")


def identity_of(device) -> GpuIdentity:
    """The GpuIdentity of a CUDA device (torch's CUDA or ROCm build)."""
    import torch
    index = device.index if device.index is not None else torch.cuda.current_device()
    return _identity_of_index(index)


@functools.lru_cache(maxsize=None)
def _identity_of_index(index):
    import torch
    properties = torch.cuda.get_device_properties(index)
    vendor = "amd" if getattr(torch.version, "hip", None) else "nvidia"
    return GpuIdentity(vendor, (properties.major, properties.minor), properties.name)
