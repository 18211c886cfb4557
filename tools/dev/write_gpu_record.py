"""Write the GPU verification record that ``backend='auto'`` reads (the last step of ``make gpu-check``).

A record means what it says: it is written only when every collected GPU test ran and passed (0
failed, 0 errors, no skip other than those ``ALLOWED_SKIPS`` names, listed in the record with their
reasons), at least one Triton test passed, the sanitizer found no error where it could run
(``--sanitizer``: "available"/"passed (...)" or "unavailable (...)"; "errors ..." refuses), and the
benchmark finished (rows of plain CE, ours eager and ours Triton at every shape). It carries the
per-shape ratios of the Triton kernels to plain ``F.cross_entropy`` and to the eager backend; where
Triton was slower than eager the record lists the shape and sets ``auto_takes_triton`` false, and
``auto`` keeps eager on that GPU. The record (device, compute capability, driver, CUDA, torch and
Triton versions, date) replaces any of the same device, capability and Triton major.minor in
``--records`` (the committed ``imbalanced_losses/kernels/verified_gpus.json``); ``--out`` gets the
record alone (record.json) and the merged file (verified_gpus.json), the copy that comes back.

    python tools/dev/write_gpu_record.py --junit out/tests_triton.xml out/tests_graphs.xml \\
        --benchmark out/benchmark.json --sanitizer "passed (0 errors)" --out out
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from imbalanced_losses.kernels import verification  # noqa: E402

# Skips a record may carry: the test (its function) and what its skip reason must say.
ALLOWED_SKIPS = {
    "test_triton_past_2_31_elements_matches_eager_in_chunks": "GiB of free GPU memory",
    "test_logits_on_another_device_than_the_current_one": "needs two CUDA devices",
    "test_positions_near_2_31_do_not_wrap": "the interpreter's int32 arithmetic",
}
BENCHMARK_VARIANTS = ("plain F.cross_entropy", "ours, eager", "ours, triton")


def test_summary(paths):
    """Counts of the pytest JUnit reports (our own run's output), the skips with their reasons, and
    the skips that a record may not carry."""
    totals = dict(passed=0, failed=0, errors=0, skipped=0)
    files, triton_tests, skips, refused = set(), 0, [], []
    for path in paths:
        for case in ElementTree.parse(path).getroot().iter("testcase"):
            files.add(case.get("classname", ""))  # the test module, dotted (a class of tests is one more part)
            child = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
            outcome = None if child is None else child.tag
            key = {"failure": "failed", "error": "errors", "skipped": "skipped", None: "passed"}[outcome]
            totals[key] += 1
            name = case.get("name", "")
            triton_tests += outcome is None and "triton" in name
            if outcome == "skipped":
                reason = child.get("message", "")
                skips.append(f"{case.get('classname')}::{name}: {reason}")
                allowed = ALLOWED_SKIPS.get(name.split("[")[0])
                if allowed is None or allowed not in reason:
                    refused.append(f"{name} ({reason})")
    return dict(totals, triton_passed=triton_tests, skips=skips, modules=sorted(f for f in files if f)), refused


def benchmark_ratios(benchmarks):
    """Per shape and dtype: the medians' ratios of Triton to plain CE and to eager, of eager to plain
    CE; and the shapes where a variant is missing."""
    rows = [row for benchmark in benchmarks for row in benchmark["rows"]]
    by_case = {}
    for row in rows:
        by_case.setdefault(f"{row['shape']} {row['dtype']}", {})[row["variant"]] = row
    ratios, missing = {}, []
    for case, variants in sorted(by_case.items()):
        absent = [v for v in BENCHMARK_VARIANTS if v not in variants]
        if absent:
            missing.append(f"{case}: {', '.join(absent)}")
            continue
        ce, eager, triton = (variants[v]["median_ms"] for v in BENCHMARK_VARIANTS)
        ratios[case] = dict(triton_over_plain_ce=round(triton / ce, 3), triton_over_eager=round(triton / eager, 3),
                            eager_over_plain_ce=round(eager / ce, 3),
                            triton_host_syncs=variants["ours, triton"].get("host_syncs"))
    return ratios, missing


def driver_version():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, check=True).stdout
        return out.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown (no nvidia-smi)"


def make_record(tests, benchmark, sanitizer, ratios):
    import triton
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(torch.cuda.current_device())
        name, capability = properties.name, f"{properties.major}.{properties.minor}"
    else:  # --dry-run
        name, capability = "no CUDA device (dry run)", "none"
    slower = sorted(case for case, r in ratios.items() if r["triton_over_eager"] > 1.0)
    return dict(
        device=name, compute_capability=capability, driver=driver_version(),
        cuda=torch.version.cuda, torch=torch.__version__, triton=triton.__version__,
        date=datetime.date.today().isoformat(), tests=tests, sanitizer=sanitizer, benchmark=benchmark,
        ratios=ratios, triton_slower_than_eager=slower, auto_takes_triton=not slower)


def merged(records, record):
    """``records`` with ``record`` in place of any of the same device, capability and Triton major.minor."""
    def key(r):
        return r["device"], str(r["compute_capability"]), verification.version_prefix(str(r["triton"]))
    kept = [r for r in records if key(r) != key(record)]
    return sorted(kept + [record], key=lambda r: (str(r["compute_capability"]), str(r["triton"]), r["device"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--junit", nargs="+", required=True, help="pytest --junitxml reports of the exactness tests")
    parser.add_argument("--benchmark", nargs="*", default=[], help="benchmark_loss.py --json files")
    parser.add_argument("--sanitizer", default="not run", help="what compute-sanitizer reported")
    parser.add_argument("--records", default=verification.RECORDS_PATH)
    parser.add_argument("--out", help="a folder for a copy of the record")
    parser.add_argument("--dry-run", action="store_true", help="print the record, write nothing (no GPU needed)")
    args = parser.parse_args()
    if not torch.cuda.is_available() and not args.dry_run:
        sys.exit("write_gpu_record: no CUDA device; a record comes from a GPU run only")
    tests, refused_skips = test_summary(args.junit)
    benchmark = []
    for path in args.benchmark:
        with open(path) as f:
            benchmark.append(json.load(f))
    ratios, missing = benchmark_ratios(benchmark)
    reasons = []
    if tests["failed"] or tests["errors"]:
        reasons.append(f"{tests['failed']} failed, {tests['errors']} errors")
    if not tests["triton_passed"]:
        reasons.append("no Triton test passed")
    if refused_skips:
        reasons.append(f"skipped without an allowed reason: {'; '.join(refused_skips)}")
    if args.sanitizer.startswith("errors") or not args.sanitizer.startswith(("available", "passed", "unavailable")):
        reasons.append(f"the sanitizer reported {args.sanitizer!r}")
    if not ratios or missing:
        reasons.append(f"the benchmark did not finish ({'; '.join(missing) or 'no rows'})")
    if reasons:
        sys.exit(f"write_gpu_record: not writing a record: {'; '.join(reasons)}")
    record = make_record(tests, benchmark, args.sanitizer, ratios)
    if args.dry_run:
        print("dry run: the record a GPU would write (nothing written):")
        print(json.dumps(record, indent=1))
        return
    with open(args.records) as f:
        records = json.load(f)
    with open(args.records, "w") as f:
        json.dump(merged(records, record), f, indent=1)
        f.write("\n")
    if args.out:
        for name, content in (("verified_gpus.json", merged(records, record)), ("record.json", record)):
            with open(os.path.join(args.out, name), "w") as f:
                json.dump(content, f, indent=1)
                f.write("\n")
    print(f"record written to {args.records}: {record['device']} (compute capability "
          f"{record['compute_capability']}), Triton {record['triton']}, {tests['passed']} tests passed, "
          f"auto takes Triton there: {record['auto_takes_triton']} (slower than eager at: "
          f"{', '.join(record['triton_slower_than_eager']) or 'none'}); commit it")


if __name__ == "__main__":
    main()
