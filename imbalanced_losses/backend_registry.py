"""The registry of the loss's backends: each name and the module under ``kernels/`` whose
``BACKEND`` object implements ``kernels.interface.Backend``. ``LossOptions`` checks ``backend``
against it, ``kernels.select`` loads from it, the tests parametrize over it and the benchmark
times every entry. Adding a backend: its file in ``kernels/`` and one line here.

Names only, nothing imported: ``options.py`` reads it, and the kernels import the options."""
REGISTRY = {
    "eager": "imbalanced_losses.kernels.eager",  # the formulas as tensor operations: every device and dtype
    "compile": "imbalanced_losses.kernels.compile",  # the same formulas through torch.compile
    "triton": "imbalanced_losses.kernels.triton_focal",  # hand-written Triton kernels: CUDA (or the interpreter)
}
NAMES = tuple(REGISTRY)
AUTO = "auto"  # a policy over the registered backends (``kernels.select``), not a backend
CHOICES = (AUTO,) + NAMES


def choices():
    """'auto' and every backend registered now (what ``LossOptions`` accepts)."""
    return (AUTO,) + tuple(REGISTRY)
