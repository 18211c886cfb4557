"""The package as pip users get it (`make wheel-check`, part of `make test`).

1. Builds the sdist and, from it, the wheel (``python -m build --no-isolation``), and checks them
   with ``twine check --strict``.
2. Reads the wheel's METADATA: every extra is there, its requirements are ranges (no ``==`` pin, no
   setuptools bound), detection users get no mmsegmentation and nobody gets the study's matplotlib
   unless asked.
3. Installs the wheel (not editable, ``--no-deps``) into a fresh venv that sees only torch (a
   ``.pth`` file onto a torch-only venv, ``--torch-site``), then, from a folder outside the
   checkout, runs the README's quick examples (the seed's, verbatim), imports every public module
   from the installed files, and checks that ``imbalanced_losses.mmdet`` / ``.mmseg`` without
   their codebases fail with one line naming the extra to install.
4. Resolves ``imbalanced-losses[mmdet]`` and ``[mmseg]`` with ``pip install --dry-run --report``
   against a stand-in user stack (``requirements/standin-user-stack.txt``: older supported
   versions, as a constraints file): every package of that stack must resolve to the user's version
   and the installed torch must stay; prints the "would install" lists.
"""
import argparse
import email.parser
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTRAS = {"mmdet", "mmseg", "study", "torchvision", "all", "test", "docs"}
STANDIN = os.path.join(ROOT, "requirements", "standin-user-stack.txt")


def run(cmd, quiet=False, **kwargs):
    """Run ``cmd``; ``quiet``: show its output only if it fails (pip's per-package index warnings)."""
    print("+", " ".join("<script>" if "\n" in str(c) else str(c) for c in cmd), flush=True)
    if not quiet:
        return subprocess.run([str(c) for c in cmd], check=True, **kwargs)
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if result.returncode:
        print(result.stdout + result.stderr)
        raise SystemExit(f"wheel check failed: {cmd[0]} exited with {result.returncode}")
    return result


def build(out):
    dist = os.path.join(out, "dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", dist, ROOT], quiet=True)
    files = sorted(os.path.join(dist, f) for f in os.listdir(dist))
    run([sys.executable, "-m", "twine", "check", "--strict", *files])
    (wheel,) = [f for f in files if f.endswith(".whl")]
    return wheel


def requirement_name(requirement):
    return re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0].lower()


def check_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        (path,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(path).decode())
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert extras == EXTRAS, f"extras: expected {sorted(EXTRAS)}, got {sorted(extras)}"
    requires = metadata.get_all("Requires-Dist") or []
    print("\n".join(f"Requires-Dist: {r}" for r in requires))
    by_extra = {}
    for requirement in requires:
        match = re.search(r"extra == \"(\w+)\"", requirement)
        by_extra.setdefault(match.group(1) if match else None, set()).add(requirement_name(requirement))
        assert "==" not in requirement.split(";")[0], f"a pin in the metadata: {requirement}"
        assert requirement_name(requirement) != "setuptools", f"a setuptools bound in the metadata: {requirement}"
    assert by_extra[None] == {"torch"}, f"the core must need only torch, got {sorted(by_extra[None])}"
    assert "mmsegmentation" not in by_extra["mmdet"] and "mmdet" not in by_extra["mmseg"], by_extra
    assert all("matplotlib" not in by_extra[e] for e in ("mmdet", "mmseg")), by_extra
    assert by_extra["all"] == by_extra["mmdet"] | by_extra["mmseg"] | by_extra["study"], by_extra
    assert by_extra["torchvision"] == {"torchvision"}, by_extra  # not in all: it needs its own torch
    return metadata["Version"]


USER_SCRIPT = r'''
import importlib, os, re, sys
import imbalanced_losses
root = sys.argv[1]
assert not imbalanced_losses.__file__.startswith(root), f"imported from the checkout: {imbalanced_losses.__file__}"
readme = open(os.path.join(root, "README.md")).read()
section = readme.split("<!-- --8<-- [start:quick-examples] -->")[1].split("<!-- --8<-- [end:quick-examples] -->")[0]
blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
assert len(blocks) == 3, len(blocks)
namespace = {}
for block in blocks:
    exec(block, namespace)
print("quick examples: ok, loss", float(namespace["loss"]))
public = ["imbalanced_losses", "imbalanced_losses.focal_loss", "imbalanced_losses.options", "imbalanced_losses.loss_op",
          "imbalanced_losses.distributed", "imbalanced_losses.priors", "imbalanced_losses.head_loss",
          "imbalanced_losses.heads.background", "imbalanced_losses.heads.priors", "imbalanced_losses.class_factors",
          "imbalanced_losses.backend_registry",
          "imbalanced_losses.checks.scalars", "imbalanced_losses.checks.host", "imbalanced_losses.checks.device",
          "imbalanced_losses.statistics.class_balance", "imbalanced_losses.statistics.coco",
          "imbalanced_losses.statistics.frequency_groups", "imbalanced_losses.kernels",
          "imbalanced_losses.kernels.interface", "imbalanced_losses.kernels.eager", "imbalanced_losses.kernels.compile",
          "imbalanced_losses.kernels.verification"]
if importlib.util.find_spec("triton") is not None:
    public.append("imbalanced_losses.kernels.triton_focal")
for name in public:
    module = importlib.import_module(name)
    assert os.path.dirname(imbalanced_losses.__file__) in module.__file__, module.__file__
print("imported:", ", ".join(public))
from imbalanced_losses.kernels import verification
print("GPU verification records shipped:", len(verification.load_records()))  # backend='auto' reads them on CUDA
for name, extra in [("imbalanced_losses.mmdet", "mmdet"), ("imbalanced_losses.mmseg", "mmseg"),
                    ("imbalanced_losses.openmmlab", "mmdet"), ("imbalanced_losses.torchvision", "torchvision")]:
    try:
        importlib.import_module(name)
    except ImportError as error:
        message = str(error)
        assert "\n" not in message and f"imbalanced-losses[{extra}]" in message, message
        print(f"{name} without its codebase: {message}")
    else:
        raise AssertionError(f"{name} imported without its codebase installed")
'''


def install_and_use(wheel, out, torch_site):
    venv = os.path.join(out, "venv")
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv])  # not a venv of a venv
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(site, "torch-only.pth"), "w") as pth:  # the installed torch, nothing else
        pth.write(torch_site + "\n")
    run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], quiet=True)
    user_dir = os.path.join(out, "user")
    os.makedirs(user_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TRITON_INTERPRET")}
    run([python, "-c", USER_SCRIPT, ROOT], cwd=user_dir, env=env)
    return python


def resolve_against_user_stack(python, wheel, out):
    pins = {}
    for line in open(STANDIN):
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    torch_version = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                                   text=True, check=True).stdout.strip()
    for extra in ("mmdet", "mmseg"):
        report = os.path.join(out, f"report-{extra}.json")
        # --no-build-isolation: mmcv is an sdist; its metadata comes from pip's wheel cache (the
        # install built it) or its setup.py with the venv's own setuptools, not a fresh build env
        run([python, "-m", "pip", "install", "--quiet", "--dry-run", "--no-build-isolation", "--report", report,
             "-c", STANDIN, f"{wheel}[{extra}]"], quiet=True)
        installs = {item["metadata"]["name"].lower(): item["metadata"]["version"]
                    for item in json.load(open(report))["install"]}
        print(f"[{extra}] would install: " + ", ".join(f"{n}=={v}" for n, v in sorted(installs.items())))
        assert "torch" not in installs, f"[{extra}] would replace the installed torch {torch_version}"
        for name, version in pins.items():
            if name in installs:
                assert installs[name] == version, f"[{extra}] would replace {name} {version} by {installs[name]}"
        expected = {"mmdet": {"mmdet", "mmengine", "mmcv"}, "mmseg": {"mmsegmentation", "mmengine", "mmcv"}}[extra]
        assert expected <= set(installs), f"[{extra}] does not bring {sorted(expected - set(installs))}"
        assert not {"mmdet", "mmsegmentation"} - expected & set(installs), f"[{extra}] brings the other codebase"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-site", required=True, help="site-packages of a venv that holds torch only")
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or tmp
        os.makedirs(out, exist_ok=True)
        wheel = build(out)
        version = check_metadata(wheel)
        python = install_and_use(wheel, out, args.torch_site)
        resolve_against_user_stack(python, wheel, out)
        print(f"wheel check: imbalanced-losses {version} ok")


if __name__ == "__main__":
    main()
