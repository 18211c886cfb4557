"""A pytest plugin for the GPU check's plan (tools/dev/gpu_check_plan.py --dry-run): with
``GPU_CHECK_RECORD=<file>`` set, every Triton launch records the specialisation that Triton's JIT
would compile for it on a GPU, and is then skipped (nothing runs: the values are not looked at,
the tests' outcomes neither), and the count of graphs that inductor compiled is added. Loaded with
``-p tests.gpu_check_recorder``; without the variable it does nothing."""
import json
import os

import pytest
import torch

RECORD = os.environ.get("GPU_CHECK_RECORD")


def _argument_key(value):
    """What Triton's JIT specialises an argument on: a tensor's dtype and 16-byte alignment, an
    integer's value 1, divisibility by 16 and width; a float's type."""
    if isinstance(value, torch.Tensor):
        return f"{value.dtype}{'/16' if value.data_ptr() % 16 == 0 else ''}"
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if value == 1:
            return "1"
        return ("i64" if not -2**31 <= value < 2**31 else "i32") + ("/16" if value % 16 == 0 else "")
    return type(value).__name__


def specialisation_key(kernel, args, constexprs, tile):
    return json.dumps([kernel.fn.__name__, [_argument_key(a) for a in args],
                       sorted(constexprs.items()), list(tile)])


_keys = {}  # specialisation -> the test (or script) that launched it first
_current = ["script"]


def _record_run(self, kernel, pointers, scalars, **constexprs):
    """Stands in for ``_Launch.run``: records the launch's specialisation, launches nothing."""
    if not self.max_programs:
        return 0
    view = self.view
    args = pointers + (self.num_s, self.num_classes, self.num_b * self.num_s, view.stride(0), view.stride(2),
                       view.stride(1)) + scalars
    constexprs.update(CLASS_CONTIGUOUS=self.class_contiguous, POSITION_CONTIGUOUS=self.position_contiguous,
                      WIDE=self.wide)
    _keys.setdefault(specialisation_key(kernel, args, constexprs, self.tile), _current[0])
    return self.max_programs


def install():
    """Record (and skip) every Triton launch of this process; write the counts to GPU_CHECK_RECORD at exit
    (scripts that are not pytest: the sanitizer cases)."""
    import atexit

    from imbalanced_losses.kernels import triton_focal
    triton_focal._Launch.run = _record_run
    atexit.register(write, None)


def write(cases):
    from torch._dynamo.utils import counters
    with open(RECORD, "w") as f:
        json.dump(dict(triton_keys=_keys, inductor_graphs=int(counters["stats"]["unique_graphs"]),
                       cases=cases), f, indent=1)


if RECORD:
    @pytest.fixture(autouse=True)
    def _record_launches(monkeypatch, request):
        from imbalanced_losses.kernels import triton_focal
        monkeypatch.setattr(triton_focal._Launch, "run", _record_run)
        _current[0] = request.node.nodeid.split("[")[0]
        yield

    def pytest_sessionfinish(session):
        write(session.testscollected)
