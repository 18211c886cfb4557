"""Compile the Triton kernels for real GPUs without one: Triton's own compiler, ahead of time.

Triton's interpreter (the CPU tests) never runs Triton's compiler, so a kernel that fails to
compile, or spills registers to local memory, for a real GPU would go unseen until a GPU ran it.
``triton.compile`` builds PTX and a cubin for a ``GPUTarget`` with the ptxas shipped in the
Triton wheel, on any machine; ``cuobjdump --dump-resource-usage`` (also shipped) reads the
registers and the stack (spills) of the cubin. Each specialisation is built as the JIT would
build it on a GPU: the same argument types, the same constexprs (a stride of 1 is a constexpr),
16-byte-aligned pointers.

    python tools/dev/triton_aot_check.py         # CI-sized: what users run, every tile (make test runs it)
    python tools/dev/triton_aot_check.py --full  # every layout, dtype, option set, target dtype (make triton-aot-check)

For sm_80, sm_89 and sm_90, with the tiles of the table launches use (``triton_tiles.TABLE``, or
``--table`` a proposed one from ``tools/dev/tune_tiles.py``); C in {2, 19, 81, 150, 1204, 5000} and
every distinct tile of the table, both layouts; narrow and WIDE (64-bit) offsets; int64, int32 and
uint8 targets (``specialisations`` says which part runs what). It fails
(exit 1) on a compile error, a spill or shared memory past the architecture's limit, listing them,
and prints a table per architecture. ``make triton-aot-check`` runs ``--full`` with the Triton of
``.venv`` and with the lowest Triton the package accepts (``triton_focal.MIN_TRITON``, its own
venv). Run it without TRITON_INTERPRET (the interpreter replaces the kernels' JIT functions).
"""
import argparse
import itertools
import json
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

from imbalanced_losses.kernels import triton_focal, triton_tiles  # noqa: E402

ARCHS = (80, 89, 90)
# Shared memory a block may use (opt-in maximum), per architecture: A100, L4/L40/RTX 4090, H100/H200.
SHARED_LIMITS = {80: 163 * 1024, 89: 99 * 1024, 90: 227 * 1024}
CLASS_COUNTS = (2, 19, 81, 150, 1204)  # binary, Cityscapes, COCO + background, ADE20K, LVIS + background
# (name, num_classes, position_contiguous): rows (N, C) and channels-last maps have the classes
# contiguous; NCHW maps the positions.
LAYOUTS = tuple((f"{'nchw' if nchw else 'rows'}_c{c}", c, nchw) for c in CLASS_COUNTS for nchw in (False, True))
# What users run: detector rows at COCO's and LVIS's C, segmentation maps at Cityscapes' and ADE20K's,
# binary both ways (the CI-sized part compiles these with every candidate tile).
NATURAL_LAYOUTS = tuple(layout for layout in LAYOUTS
                        if layout[1] == 2 or layout[2] == (layout[1] in (19, 150)))
DTYPES = ("fp32", "bf16", "fp16")
TORCH_DTYPES = dict(fp32="float32", bf16="bfloat16", fp16="float16")  # the tile table's names
TARGET_TYPES = ("i64", "i32", "u8")  # int64, int32 and uint8 targets (the kernels read any integer dtype)
FORWARD_FLAGS = ("HAS_ALPHA", "HAS_WEIGHT", "SMOOTHING", "WITH_GRAD", "REDUCE")
BACKWARD_FLAGS = ("SMOOTHING", "SCALAR_GRAD")
FORWARD_OPTIONS = tuple(dict(zip(FORWARD_FLAGS, bits)) for bits in itertools.product((True, False), repeat=5))
BACKWARD_OPTIONS = tuple(dict(zip(BACKWARD_FLAGS, bits)) for bits in itertools.product((True, False), repeat=2))
# The option set that keeps the most values live (first: all on) and the fewest (last: all off).
FULLEST, LEANEST = 0, -1
INT_ARGS = {"S", "C", "P", "stride_b", "stride_s", "stride_c", "stride_tb", "stride_ts", "upstream_stride_b",
            "upstream_stride_s", "ignore_index", "background_class"}
FLOAT_ARGS = {"gamma", "eps"}
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def pointer_types(kernel_name, dtype, options, targets="i64"):
    """The element type of each pointer argument, as the launches in triton_focal pass them."""
    flags = "*i64"  # device_checks' flags stand in for a pointer that a constexpr switches off
    if kernel_name == "focal_forward_kernel":
        return dict(logits_ptr=f"*{dtype}", targets_ptr=f"*{targets}",
                    alpha_ptr="*fp32" if options["HAS_ALPHA"] else flags,
                    weight_ptr="*fp32" if options["HAS_WEIGHT"] else flags,
                    loss_ptr=flags if options["REDUCE"] else "*fp32",
                    partial_ptr="*fp32" if options["REDUCE"] else flags,
                    saved_ptr="*fp32" if options["WITH_GRAD"] else flags, flags_ptr=flags)
    return dict(logits_ptr=f"*{dtype}", grad_ptr=f"*{dtype}", targets_ptr=f"*{targets}", saved_ptr="*fp32",
                grad_loss_ptr="*fp32")


def source(kernel, dtype, num_classes, position_contiguous, options, block_s, block_c, wide=False, targets="i64"):
    """The ASTSource the JIT would build for this launch (a stride of 1 becomes a constexpr; WIDE
    launches get int64 sizes where they reach 2**31, here P, the saved buffer's plane)."""
    names = kernel.arg_names
    constexprs = dict(options, CLASS_CONTIGUOUS=not position_contiguous, POSITION_CONTIGUOUS=position_contiguous,
                      WIDE=wide, BLOCK_S=block_s, BLOCK_C=block_c)
    ones = {"stride_s"} if position_contiguous else {"stride_c"}  # the contiguous axis of the logits
    ones.add("stride_ts")  # targets as (B, S) are contiguous along S
    if not options.get("SCALAR_GRAD", True):
        ones.add("upstream_stride_s")  # so is a per-position upstream gradient
    pointers = pointer_types(kernel.fn.__name__, dtype, options, targets)
    signature, values = {}, {}
    for name in names:
        if name in pointers:
            signature[name] = pointers[name]
        elif name in ones:
            signature[name], values[name] = "constexpr", 1
        elif name in INT_ARGS:
            signature[name] = "i64" if wide and name == "P" else "i32"
        elif name in FLOAT_ARGS:
            signature[name] = "fp32"
        else:
            signature[name], values[name] = "constexpr", constexprs[name]
    attrs = {(names.index(n),): [["tt.divisibility", 16]] for n in pointers}
    return ASTSource(kernel, signature, constexprs={(names.index(n),): v for n, v in values.items()}, attrs=attrs)


def table_class_counts(table, position_contiguous):
    """Class counts that reach every distinct tile of ``table`` in one layout."""
    layout = triton_tiles.POSITION_CONTIGUOUS if position_contiguous else triton_tiles.CLASS_CONTIGUOUS
    counts = [c for row in table if row.layout == layout for c in triton_tiles.representative_class_counts(row)]
    return tuple(sorted(set(counts)))


def specialisations(full, table=triton_tiles.TABLE):
    """(name, ASTSource, num_warps, num_stages) of each specialisation to compile, with the tiles of
    ``table`` (triton_tiles.TABLE: what launches use; or a proposed table from tune_tiles.py).

    CI-sized (``make test``): the natural layouts (NATURAL_LAYOUTS) and a class loop at C = 5000, in
    bf16 and fp32, the fullest option set, narrow and WIDE offsets.
    ``full`` (``make triton-aot-check``): besides, every distinct tile of the table in both layouts and
    every dtype, the fullest and the leanest option sets, narrow and WIDE; every option set and target
    dtype in the natural layouts."""
    kernels = ((triton_focal.focal_forward_kernel, FORWARD_OPTIONS), (triton_focal.focal_backward_kernel,
                                                                      BACKWARD_OPTIONS))
    natural = NATURAL_LAYOUTS + (("rows_c5000", 5000, False),)
    layouts = [(layout, True) for layout in natural]
    if full:
        layouts += [((f"{'nchw' if nchw else 'rows'}_c{c}", c, nchw), False)
                    for nchw in (False, True) for c in table_class_counts(table, nchw)]
    seen = set()
    for ((_, num_classes, position_contiguous), natural_layout), dtype, (kernel, option_sets) in \
            itertools.product(layouts, DTYPES if full else DTYPES[:2], kernels):
        runs = [(options, wide, "i64") for options in ((option_sets[FULLEST], option_sets[LEANEST]) if full
                                                       else (option_sets[FULLEST],))
                for wide in (False, True)]
        if full and natural_layout:
            runs += [(options, False, "i64") for options in option_sets]
            runs += [(option_sets[FULLEST], wide, targets) for targets in TARGET_TYPES for wide in (False, True)]
        for options, wide, targets in runs:
            tile = triton_tiles.tile_for(num_classes, position_contiguous, TORCH_DTYPES[dtype], wide, table)
            name = (f"{kernel.fn.__name__} {dtype} {tile.block_s}x{tile.block_c} warps={tile.num_warps} "
                    f"stages={tile.num_stages}{' WIDE' if wide else ''} {'nchw' if position_contiguous else 'rows'}"
                    f" targets={targets} " + ",".join(k for k, v in options.items() if v))
            if name in seen:  # another C of the same tile and layout: the same kernel
                continue
            seen.add(name)
            yield (f"{name} (C={num_classes})", source(kernel, dtype, num_classes, position_contiguous, options,
                                                      tile.block_s, tile.block_c, wide, targets),
                   tile.num_warps, tile.num_stages)


def resource_usage(cubin, folder):
    path = os.path.join(folder, "kernel.cubin")
    with open(path, "wb") as f:
        f.write(cubin)
    text = subprocess.run([CUOBJDUMP, "--dump-resource-usage", path], capture_output=True, text=True,
                          check=True).stdout
    return {key: int(value) for key, value in re.findall(r"\b(REG|STACK|LOCAL|SHARED):(\d+)", text)}


def check(full=False, archs=ARCHS, table=triton_tiles.TABLE):
    """Compile every specialisation for every arch; return (rows, failures)."""
    rows, failures = [], []
    with tempfile.TemporaryDirectory() as folder:
        for (name, src, num_warps, num_stages), arch in itertools.product(list(specialisations(full, table)), archs):
            label = f"sm_{arch} {name}"
            try:
                compiled = triton.compile(src, target=GPUTarget("cuda", arch, 32),
                                          options=dict(num_warps=num_warps, num_stages=num_stages))
            except Exception as error:  # noqa: BLE001 - any compiler failure is a finding, reported by name
                failures.append(f"{label}: compile error: {type(error).__name__}: {str(error).splitlines()[0]}")
                continue
            usage = resource_usage(compiled.asm["cubin"], folder)
            usage["SHARED"] = max(usage.get("SHARED", 0), int(getattr(compiled.metadata, "shared", 0) or 0))
            rows.append((arch, label, usage))
            if usage.get("STACK", 0) or usage.get("LOCAL", 0):
                failures.append(f"{label}: spills ({usage})")
            if usage["SHARED"] > SHARED_LIMITS[arch]:
                failures.append(f"{label}: {usage['SHARED']} bytes of shared memory, sm_{arch} has "
                                f"{SHARED_LIMITS[arch]}")
    return rows, failures


def summary(rows, failures, archs=ARCHS):
    """A markdown table per architecture: specialisations, registers, spills, shared memory."""
    lines = [f"Triton {triton.__version__}", "",
             "| arch | specialisations | registers (max) | spills | shared memory (max) / limit |",
             "|---|---|---|---|---|"]
    for arch in archs:
        usages = [usage for a, _, usage in rows if a == arch]
        spills = sum(1 for f in failures if f.startswith(f"sm_{arch} ") and "spills" in f)
        if usages:
            lines.append(f"| sm_{arch} | {len(usages)} | {max(u.get('REG', 0) for u in usages)} | {spills} | "
                         f"{max(u['SHARED'] for u in usages)} B / {SHARED_LIMITS[arch] // 1024} KB |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="every layout, dtype, option set and target dtype")
    parser.add_argument("--verbose", action="store_true", help="print every specialisation's resource usage")
    parser.add_argument("--allow-spills", action="store_true",
                        help="list spills as findings without failing (make triton-aot-check's run of the lowest "
                             "Triton: its ptxas spills where the pinned one does not)")
    parser.add_argument("--table", help="a proposed tile table (tools/dev/tune_tiles.py's JSON) instead of the "
                                        "committed one: compile it before committing it")
    args = parser.parse_args()
    start = time.monotonic()
    table = triton_tiles.TABLE
    if args.table:
        with open(args.table) as f:
            table = tuple(triton_tiles.TileRow(**row) for row in json.load(f)["rows"])
    rows, failures = check(args.full, table=table)
    spills = [f for f in failures if ": spills (" in f]
    if args.allow_spills:
        failures = [f for f in failures if f not in spills]
    for _, label, usage in rows if args.verbose else ():
        print(f"{label}: {usage}")
    archs = ", ".join(f"sm_{a}" for a in ARCHS)
    print(f"{len(rows)} specialisations compiled for {archs} without spills or shared memory past the limit"
          if not failures else f"{len(failures)} of {len(rows) + len([f for f in failures if 'compile error' in f])} "
          "specialisations failed:", f"({time.monotonic() - start:.0f} s, Triton {triton.__version__})")
    for failure in failures:
        print("  " + failure)
    if args.allow_spills and spills:
        print(f"{len(spills)} spills, listed as findings (--allow-spills):")
        for spill in spills:
            print("  " + spill)
    print(summary(rows, spills))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
