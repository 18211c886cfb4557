"""How ``backend='auto'`` chooses on CUDA: the Triton kernels only on an NVIDIA GPU whose compute
capability and Triton version a committed verification record covers (``verification.py``), eager
elsewhere with one warning that names ``backend='triton'``. Tested with given device properties,
no GPU needed."""
import json
import types
import warnings

import pytest
import torch

from imbalanced_losses import kernels
from imbalanced_losses.kernels import verification
from imbalanced_losses.kernels.verification import GpuIdentity
from tests.cases import needs_triton, triton_focal

H100 = GpuIdentity("nvidia", (9, 0), "NVIDIA H100 80GB HBM3")
L4 = GpuIdentity("nvidia", (8, 9), "NVIDIA L4")
T4 = GpuIdentity("nvidia", (7, 5), "Tesla T4")
MI300 = GpuIdentity("amd", (9, 4), "AMD Instinct MI300X")
COMMITTED_RECORDS = verification.load_records  # before the ``gpu`` fixture stands in for it


def _record(capability="9.0", triton="3.6.0", slower=(), **changes):
    """A record as tools/dev/write_gpu_record.py writes it (``slower``: shapes where Triton lost to eager)."""
    ratios = {"1048576x81 bf16": dict(triton_over_plain_ce=0.21, triton_over_eager=0.16, eager_over_plain_ce=1.32,
                                      triton_host_syncs=0)}
    record = dict(device="NVIDIA H100 80GB HBM3", compute_capability=capability, driver="580.95", cuda="13.0",
                  torch="2.11.0+cu130", triton=triton, date="2026-12-05",
                  tests=dict(passed=180, failed=0, errors=0, skipped=1, triton_passed=150, modules=[], skips=[]),
                  sanitizer="unavailable (compute-sanitizer is not installed)", benchmark=[], ratios=ratios,
                  triton_slower_than_eager=list(slower), auto_takes_triton=not slower)
    record.update(changes)
    return record


def _fake_logits(device="cuda:0", dtype=torch.float32):
    """What ``kernels.select`` looks at, for a device this machine may not have."""
    return types.SimpleNamespace(device=torch.device(device), dtype=dtype, element_size=lambda: dtype.itemsize)


@pytest.mark.parametrize("identity,triton_version,covered", [
    (H100, "3.6.0", True),
    (H100, "3.6.1+git", True),  # the same major.minor
    (H100, "3.7.0", False),
    (H100, "3.5.1", False),
    (L4, "3.6.0", False),  # another architecture
    (T4, "3.6.0", False),
    (MI300, "3.6.0", False),  # ROCm: never, whatever the records say
])
def test_a_record_covers_its_capability_and_triton_version(identity, triton_version, covered):
    records = [_record(), _record(capability="9.4", device="AMD Instinct MI300X"),
               _record(capability="7.5", device="Tesla T4")]  # records that must not count
    assert (verification.covering_record(identity, triton_version, records) is not None) is covered
    reason = verification.unverified_reason(identity, triton_version, records)
    assert (reason is None) is covered
    if not covered and identity.vendor == "nvidia":
        assert f"compute capability {identity.capability[0]}.{identity.capability[1]}" in reason
        assert "make gpu-check" in reason or "built for 8.0 and newer" in reason


def test_no_record_means_no_gpu_is_covered():
    assert verification.covering_record(H100, "3.6.0", ()) is None
    reason = verification.unverified_reason(H100, "3.6.0", ())
    assert "no committed GPU verification record covers NVIDIA H100" in reason


def test_a_record_where_triton_lost_to_eager_keeps_auto_on_eager():
    records = [_record(slower=["8192x81 fp32"])]
    assert verification.matching_record(H100, "3.6.0", records) is records[0]
    assert verification.covering_record(H100, "3.6.0", records) is None
    assert verification.unverified_reason(H100, "3.6.0", records) == (
        "the verification record of NVIDIA H100 80GB HBM3 (2026-12-05) found the Triton kernels slower than eager "
        "at 8192x81 fp32, so auto keeps eager there")


@pytest.mark.parametrize("text,expected", [("3.6.0", (3, 6)), ("3.9.0+gitabc", (3, 6 + 3)), ("2.1", (2, 1)),
                                           ("3", (3,)), ("3.6rc1", (3, 6)), ("dev", ())])
def test_version_prefix(text, expected):
    assert verification.version_prefix(text) == expected


@pytest.mark.parametrize("content,message", [
    ("{not json", "cannot read the GPU verification records"),
    ('{"device": "x"}', "expected a JSON list of records"),
    ('[{"device": "x"}]', "record 0 lacks compute_capability"),
    (json.dumps([_record(auto_takes_triton=True, triton_slower_than_eager=["8192x81 fp32"])]),
     "record 0 has auto_takes_triton=True with triton_slower_than_eager"),
])
def test_a_broken_records_file_names_itself(tmp_path, content, message):
    path = tmp_path / "verified_gpus.json"
    path.write_text(content)
    with pytest.raises(RuntimeError, match=f"{path}: {message}"):
        verification.load_records(str(path))


def test_the_committed_records_file_loads_and_every_record_is_complete():
    with open(verification.RECORDS_PATH) as f:
        records = json.load(f)
    assert verification.load_records() == tuple(records)


@needs_triton
def test_auto_takes_triton_on_every_gpu_a_committed_record_covers(gpu):
    """The shipped records as they are (none until a GPU ran make gpu-check; tests/tools/
    test_gpu_check_tools.py commits a realistic one into a copy of the package and runs this)."""
    records = COMMITTED_RECORDS()
    if not records:
        pytest.skip("no committed GPU verification record yet")
    gpu.records = records
    for record in records:
        major, minor = (int(part) for part in str(record["compute_capability"]).split("."))
        gpu.identity = GpuIdentity("nvidia", (major, minor), record["device"])
        triton_focal.triton.__version__ = record["triton"]
        expected = triton_focal.BACKEND if record["auto_takes_triton"] else kernels.eager.BACKEND
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert kernels.select("auto", _fake_logits(dtype=torch.bfloat16)) is expected, record["device"]


@pytest.fixture
def gpu(monkeypatch):
    """A CUDA machine as ``select`` sees it: the GPU's identity and the records, given here."""
    state = types.SimpleNamespace(identity=H100, records=())
    monkeypatch.setattr(verification, "identity_of", lambda device: state.identity)
    monkeypatch.setattr(verification, "load_records", lambda: state.records)
    monkeypatch.setattr(kernels, "_auto_warned", False)
    if triton_focal is not None:
        monkeypatch.setattr(triton_focal, "INTERPRETED", False)  # as on a GPU machine
        monkeypatch.setattr(triton_focal.triton, "__version__", "3.6.0")
    return state


@needs_triton
def test_auto_runs_eager_on_an_unrecorded_gpu_and_says_so_once(gpu):
    with pytest.warns(RuntimeWarning, match=r"backend='auto'.*eager backend on cuda:0 because no committed GPU "
                                            r"verification record covers NVIDIA H100.*9\.0.*Triton 3\.6.*"
                                            r"backend='triton' opts in"):
        assert kernels.select("auto", _fake_logits()) is kernels.eager.BACKEND
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernels.select("auto", _fake_logits(dtype=torch.bfloat16)) is kernels.eager.BACKEND  # once only
    assert kernels.select("triton", _fake_logits()) is triton_focal.BACKEND  # the opt-in still runs


@needs_triton
def test_auto_takes_triton_on_a_recorded_gpu(gpu):
    gpu.records = (_record(),)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kernels.select("auto", _fake_logits(dtype=torch.bfloat16)) is triton_focal.BACKEND
    assert kernels.select("auto", _fake_logits(dtype=torch.float64)) is kernels.eager.BACKEND  # by design


@needs_triton
@pytest.mark.parametrize("identity,triton_version", [(L4, "3.6.0"), (T4, "3.6.0"), (MI300, "3.6.0"),
                                                     (H100, "3.7.0")])
def test_auto_runs_eager_where_the_record_does_not_reach(gpu, monkeypatch, identity, triton_version):
    gpu.records, gpu.identity = (_record(),), identity
    monkeypatch.setattr(triton_focal.triton, "__version__", triton_version)
    with pytest.warns(RuntimeWarning, match="backend='triton' opts in"):
        assert kernels.select("auto", _fake_logits()) is kernels.eager.BACKEND


def test_auto_runs_eager_on_cpu_and_for_float64():
    assert kernels.select("auto", torch.randn(2, 3)) is kernels.eager.BACKEND
    assert kernels.select("auto", _fake_logits("cuda", torch.float64)) is kernels.eager.BACKEND


def test_auto_falls_back_to_eager_where_triton_cannot_be_imported(monkeypatch):
    monkeypatch.setitem(kernels._loaded, "triton", (None, "Triton cannot be imported (ImportError: test)"))
    monkeypatch.setattr(kernels, "_auto_warned", False)
    with pytest.warns(RuntimeWarning, match=r"backend='auto'.*eager backend on cuda:0 because Triton cannot be"):
        assert kernels.select("auto", _fake_logits()) is kernels.eager.BACKEND
    with pytest.raises(RuntimeError, match="backend='triton' cannot run here: Triton cannot be imported"):
        kernels.select("triton", _fake_logits())
