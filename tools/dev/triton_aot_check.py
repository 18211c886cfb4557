"""Compile the Triton kernels for real GPUs without one: Triton's own compiler, ahead of time.

Triton's interpreter (the CPU tests) never runs Triton's compiler, so a kernel that fails to
compile, or spills registers to local memory, for a real GPU would go unseen until a GPU ran it.
``triton.compile`` builds PTX and a cubin for a ``GPUTarget`` with the ptxas shipped in the
Triton wheel, on any machine; ``cuobjdump --dump-resource-usage`` (also shipped) reads the
registers and the stack (spills) of the cubin. Each specialisation is built as the JIT would
build it on a GPU: the same argument types, the same constexprs (a stride of 1 is a constexpr),
16-byte-aligned pointers.

    python tools/dev/triton_aot_check.py         # every candidate tile, the fullest option set (make test runs it)
    python tools/dev/triton_aot_check.py --full  # ... and every option set (make triton-aot-check)

It fails (exit 1) on a compile error or a spill, listing them. Run it without TRITON_INTERPRET
(the interpreter replaces the kernels' JIT functions).
"""
import argparse
import itertools
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

os.environ.pop("TRITON_INTERPRET", None)  # before Triton decorates our kernels
# Triton 3.9 warns that its FP-fusion default will change; we compile with the default, as the JIT does.
warnings.filterwarnings("ignore", message="TRITON_DEFAULT_FP_FUSION")

import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402

from imbalanced_losses.kernels import triton_focal  # noqa: E402

ARCHS = (80, 90)
# (name, num_classes, position_contiguous): detector rows (COCO's 81, LVIS's 1204 classes, classes
# contiguous) and a segmentation map (Cityscapes' 19 classes, NCHW: positions contiguous).
LAYOUTS = (("rows_c81", 81, False), ("rows_c1204", 1204, False), ("nchw_c19", 19, True))
DTYPES = ("fp32", "bf16")
# Forward option sets: what a detector (alpha, smoothing, mean_positive), a segmentor (weight,
# mean) and a per-position call ('none', no gradient) switch on.
FORWARD_OPTIONS = (
    dict(HAS_ALPHA=True, HAS_WEIGHT=False, SMOOTHING=True, WITH_GRAD=True, REDUCE=True),
    dict(HAS_ALPHA=False, HAS_WEIGHT=True, SMOOTHING=False, WITH_GRAD=True, REDUCE=True),
    dict(HAS_ALPHA=True, HAS_WEIGHT=True, SMOOTHING=True, WITH_GRAD=False, REDUCE=False),
)
BACKWARD_OPTIONS = (dict(SMOOTHING=True, SCALAR_GRAD=True), dict(SMOOTHING=False, SCALAR_GRAD=False))
INT_ARGS = {"S", "C", "P", "stride_b", "stride_s", "stride_c", "stride_tb", "stride_ts", "upstream_stride_b",
            "upstream_stride_s", "ignore_index", "background_class", "num_partials"}
FLOAT_ARGS = {"gamma", "eps"}
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def pointer_types(kernel_name, dtype, options):
    """The element type of each pointer argument, as the launches in triton_focal pass them."""
    flags = "*i64"  # device_checks' flags stand in for a pointer that a constexpr switches off
    if kernel_name == "focal_forward_kernel":
        return dict(logits_ptr=f"*{dtype}", targets_ptr="*i64",
                    alpha_ptr="*fp32" if options["HAS_ALPHA"] else flags,
                    weight_ptr="*fp32" if options["HAS_WEIGHT"] else flags,
                    loss_ptr=flags if options["REDUCE"] else "*fp32",
                    partial_ptr="*fp32" if options["REDUCE"] else flags,
                    saved_ptr="*fp32" if options["WITH_GRAD"] else flags, flags_ptr=flags)
    return dict(logits_ptr=f"*{dtype}", grad_ptr=f"*{dtype}", targets_ptr="*i64", saved_ptr="*fp32",
                grad_loss_ptr="*fp32")


def source(kernel, dtype, num_classes, position_contiguous, options, block_s, block_c):
    """The ASTSource the JIT would build for this launch (a stride of 1 becomes a constexpr)."""
    names = kernel.arg_names
    constexprs = dict(options, CLASS_CONTIGUOUS=not position_contiguous, POSITION_CONTIGUOUS=position_contiguous,
                      WIDE=False, BLOCK_S=block_s, BLOCK_C=block_c)
    ones = {"stride_s"} if position_contiguous else {"stride_c"}  # the contiguous axis of the logits
    ones.add("stride_ts")  # targets as (B, S) are contiguous along S
    if not options.get("SCALAR_GRAD", True):
        ones.add("upstream_stride_s")  # so is a per-position upstream gradient
    pointers = pointer_types(kernel.fn.__name__, dtype, options)
    signature, values = {}, {}
    for name in names:
        if name in pointers:
            signature[name] = pointers[name]
        elif name in ones:
            signature[name], values[name] = "constexpr", 1
        elif name in INT_ARGS:
            signature[name] = "i32"
        elif name in FLOAT_ARGS:
            signature[name] = "fp32"
        else:
            signature[name], values[name] = "constexpr", constexprs[name]
    attrs = {(names.index(n),): [["tt.divisibility", 16]] for n in pointers}
    return ASTSource(kernel, signature, constexprs={(names.index(n),): v for n, v in values.items()}, attrs=attrs)


def specialisations(full):
    kernels = ((triton_focal.focal_forward_kernel, FORWARD_OPTIONS),
               (triton_focal.focal_backward_kernel, BACKWARD_OPTIONS))
    for (layout, num_classes, position_contiguous), dtype, (kernel, option_sets) in itertools.product(
            LAYOUTS, DTYPES, kernels):
        tiles = triton_focal.candidate_tiles(num_classes, position_contiguous)  # the default among them
        if not full:  # every tile autotuning can pick, with the option set that keeps the most values live
            option_sets = option_sets[:1]
        for options, (block_s, block_c, num_warps) in itertools.product(option_sets, tiles):
            name = (f"{kernel.fn.__name__} {layout} {dtype} {block_s}x{block_c} warps={num_warps} "
                    + ",".join(k for k, v in options.items() if v))
            yield name, source(kernel, dtype, num_classes, position_contiguous, options, block_s, block_c), num_warps


def resource_usage(cubin, folder):
    path = os.path.join(folder, "kernel.cubin")
    with open(path, "wb") as f:
        f.write(cubin)
    text = subprocess.run([CUOBJDUMP, "--dump-resource-usage", path], capture_output=True, text=True,
                          check=True).stdout
    return {key: int(value) for key, value in re.findall(r"\b(REG|STACK|LOCAL|SHARED):(\d+)", text)}


def check(full=False, archs=ARCHS):
    """Compile every specialisation for every arch; return (rows, failures)."""
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as folder:
        for (name, src, num_warps), arch in itertools.product(list(specialisations(full)), archs):
            label = f"sm_{arch} {name}"
            try:
                compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32), options=dict(num_warps=num_warps))
            except Exception as error:  # noqa: BLE001 - any compiler failure is a finding, reported by name
                failures.append(f"{label}: compile error: {type(error).__name__}: {str(error).splitlines()[0]}")
                continue
            usage = resource_usage(compiled.asm["cubin"], folder)
            rows.append((label, usage))
            if usage.get("STACK", 0) or usage.get("LOCAL", 0):
                failures.append(f"{label}: spills ({usage})")
    return rows, failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every option set and candidate tile")
    parser.add_argument("--verbose", action="store_true", help="print every specialisation's resource usage")
    args = parser.parse_args()
    start = time.monotonic()
    rows, failures = check(args.full)
    for label, usage in rows if args.verbose else ():
        print(f"{label}: {usage}")
    print(f"{len(rows)} specialisations compiled for {', '.join(f'sm_{a}' for a in ARCHS)} without spills"
          if not failures else f"{len(failures)} of {len(rows) + len([f for f in failures if 'compile error' in f])} "
          "specialisations failed:", f"({time.monotonic() - start:.0f} s, Triton {triton.__version__})")
    for failure in failures:
        print("  " + failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
