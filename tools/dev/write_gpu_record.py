"""Write the GPU verification record that ``backend='auto'`` reads (the last step of ``make gpu-check``).

Run only after the exactness tests passed (gpu_check.sh stops before it otherwise); it refuses to
write where the test report shows a failure or an error, or where no Triton test ran. The record
(device, compute capability, driver, CUDA, torch and Triton versions, date, the tests, the
benchmark rows) replaces any record of the same device, capability and Triton major.minor in
``imbalanced_losses/kernels/verified_gpus.json``, which is committed; a copy goes to ``--out``.

    python tools/dev/write_gpu_record.py --junit work_dirs/gpu-check/tests.xml \\
        --benchmark work_dirs/gpu-check/benchmark_bf16.json --sanitizer "ran: 0 errors" --out work_dirs/gpu-check
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


def test_summary(paths):
    """Counts and files of the pytest JUnit reports (our own run's output)."""
    totals = dict(passed=0, failed=0, errors=0, skipped=0)
    large = dict(passed=0, skipped=0)  # the past-2**31 shapes, skipped where memory is short
    files, triton_tests = set(), 0
    for path in paths:
        for case in ElementTree.parse(path).getroot().iter("testcase"):
            files.add(case.get("classname", ""))  # the test module, dotted (a class of tests is one more part)
            outcome = next((child.tag for child in case if child.tag in ("failure", "error", "skipped")), None)
            key = {"failure": "failed", "error": "errors", "skipped": "skipped", None: "passed"}[outcome]
            totals[key] += 1
            triton_tests += outcome is None and "triton" in case.get("name", "")
            if "past_2_31" in case.get("name", "") and key in large:
                large[key] += 1
    return dict(totals, triton_passed=triton_tests, past_2_31_elements=large, modules=sorted(f for f in files if f))


def driver_version():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, check=True).stdout
        return out.strip().splitlines()[0]
    except (OSError, subprocess.CalledProcessError, IndexError):
        return "unknown (no nvidia-smi)"


def make_record(tests, benchmark, sanitizer):
    import triton
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(torch.cuda.current_device())
        name, capability = properties.name, f"{properties.major}.{properties.minor}"
    else:  # --dry-run
        name, capability = "no CUDA device (dry run)", "none"
    return dict(
        device=name, compute_capability=capability, driver=driver_version(),
        cuda=torch.version.cuda, torch=torch.__version__, triton=triton.__version__,
        date=datetime.date.today().isoformat(), tests=dict(tests, sanitizer=sanitizer),
        benchmark=benchmark)


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
    tests = test_summary(args.junit)
    if tests["failed"] or tests["errors"] or not tests["triton_passed"]:
        sys.exit(f"write_gpu_record: not writing a record: {tests['failed']} failed, {tests['errors']} errors, "
                 f"{tests['triton_passed']} Triton tests passed")
    benchmark = []
    for path in args.benchmark:
        with open(path) as f:
            benchmark.append(json.load(f))
    record = make_record(tests, benchmark, args.sanitizer)
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
        with open(os.path.join(args.out, "verified_gpus.json"), "w") as f:
            json.dump(merged(records, record), f, indent=1)
            f.write("\n")
    print(f"record written to {args.records}: {record['device']} (compute capability "
          f"{record['compute_capability']}), Triton {record['triton']}, {tests['passed']} tests passed; commit it")


if __name__ == "__main__":
    main()
