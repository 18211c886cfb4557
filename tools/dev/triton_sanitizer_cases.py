"""One small call per Triton kernel specialisation, each checked against eager on the CPU: what
``make gpu-check`` runs under ``compute-sanitizer --tool memcheck`` (out-of-bounds and misaligned
accesses the values alone would not show). Runs anywhere ``backend='triton'`` runs (under
``TRITON_INTERPRET=1`` on CPU: the dry run).

    compute-sanitizer --tool memcheck --error-exitcode 1 python tools/dev/triton_sanitizer_cases.py

Exit 1 with the failing cases listed where a value differs.
"""
import itertools
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from imbalanced_losses import softmax_focal_loss  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
# (name, shape, memory format): the class-contiguous layouts (rows, channels-last) and the
# position-contiguous one (NCHW), short and long rows (a class loop at C = 1204 and 150).
LAYOUTS = (("rows_c2", (37, 2), None), ("rows_c81", (45, 81), None), ("rows_c1204", (9, 1204), None),
           ("nchw_c2", (2, 2, 5, 7), None), ("nchw_c19", (2, 19, 5, 7), None), ("nchw_c150", (1, 150, 3, 5), None),
           ("channels_last_c19", (2, 19, 5, 7), torch.channels_last))
DTYPES = (torch.float32, torch.bfloat16)  # float16 addresses as bfloat16 does (2 bytes): the tests cover its values
# The forward's switches: what a detector, a segmentor and an evaluation call turn on.
OPTION_SETS = (dict(alpha=True, weight=False, label_smoothing=0.1, reduction="mean_positive", grad=True),
               dict(alpha=False, weight=True, label_smoothing=0.0, reduction="mean", grad=True),
               dict(alpha=True, weight=True, label_smoothing=0.1, reduction="none", grad=False))


def run_case(shape, memory_format, dtype, options, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(shape, generator=gen) * 3).to(dtype)
    if memory_format is not None:
        logits = logits.contiguous(memory_format=memory_format)
    targets = torch.randint(0, shape[1], shape[:1] + shape[2:], generator=gen, dtype=torch.uint8 if shape[1] < 200
                            else torch.int64)
    targets[torch.rand(targets.shape, generator=gen) < 0.1] = 255
    alpha = torch.rand(shape[1], generator=gen) + 0.1 if options["alpha"] else None
    weight = torch.rand(targets.shape, generator=gen) if options["weight"] else None
    kwargs = dict(gamma=2.0, label_smoothing=options["label_smoothing"], reduction=options["reduction"],
                  ignore_index=255)

    def call(backend, on, x_dtype):
        x = logits.to(on, x_dtype).clone(memory_format=memory_format or torch.contiguous_format)
        x.requires_grad_(options["grad"])
        loss = softmax_focal_loss(x, targets.to(on), alpha=None if alpha is None else alpha.to(on),
                                  weight=None if weight is None else weight.to(on), backend=backend, **kwargs)
        if options["grad"]:
            loss.sum().backward()
            return loss.detach().float().cpu(), x.grad.float().cpu()
        return loss.float().cpu(), None

    got = call("triton", device, dtype)
    expected = call("eager", "cpu", torch.float32)
    half = dtype != torch.float32
    torch.testing.assert_close(got[0], expected[0], rtol=1e-4, atol=1e-5)
    if options["grad"]:
        torch.testing.assert_close(got[1], expected[1], rtol=2e-2 if half else 1e-4, atol=2e-3 if half else 1e-6)


def main():
    failures, count = [], 0
    for (name, shape, memory_format), dtype, options in itertools.product(LAYOUTS, DTYPES, OPTION_SETS):
        count += 1
        try:
            run_case(shape, memory_format, dtype, options, DEVICE)
        except AssertionError as error:
            failures.append(f"{name} {dtype} {options}: {str(error).splitlines()[0]}")
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    print(f"{count - len(failures)} of {count} Triton specialisation cases match eager on {DEVICE}")
    for failure in failures:
        print("  " + failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
