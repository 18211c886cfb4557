"""The documentation site: ``mkdocs build --strict`` (a broken reference, a docstring griffe cannot
read or any other warning fails) and every Python code block of its pages, run in order per page
(README sections included through snippets are expanded as mkdocs does). A block whose first line
says ``# docs: skip (<reason>)`` is skipped with that reason (it needs data or a GPU)."""
import glob
import html
import os
import re
import subprocess
import sys

import pytest

from tests.paths import ROOT

DOCS = os.path.join(ROOT, "docs")
SNIPPET = re.compile(r'^--8<-- "([^":]+):([^"]+)"$', re.M)


def pages():
    return sorted(os.path.relpath(p, DOCS) for p in glob.glob(os.path.join(DOCS, "**", "*.md"), recursive=True))


def expand(text):
    """pymdownx.snippets' includes: a section (the lines between [start:name] and [end:name]) or a
    range of lines."""
    def section(match):
        source = open(os.path.join(ROOT, match.group(1))).read()
        lines = re.fullmatch(r"(\d+):(\d*)", match.group(2))  # "file:3:" / "file:3:10": 1-based lines
        if lines:
            first, last = int(lines.group(1)), int(lines.group(2) or 0) or None
            return "\n".join(source.splitlines()[first - 1:last])
        start, end = f"--8<-- [start:{match.group(2)}]", f"--8<-- [end:{match.group(2)}]"
        assert start in source and end in source, match.group(0)
        body = source.split(start, 1)[1].split(end, 1)[0]
        return "\n".join(body.splitlines()[1:-1])  # without the marker lines themselves
    return SNIPPET.sub(section, text)


def python_blocks(page):
    return re.findall(r"^```python\n(.*?)^```", expand(open(os.path.join(DOCS, page)).read()), flags=re.S | re.M)


def test_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert result.returncode == 0, result.stdout + result.stderr
    api = open(tmp_path / "site" / "api" / "core" / "index.html").read()
    for parameter in ("alpha", "gamma", "reduction", "label_smoothing", "ignore_index", "background_class",
                      "gather_distributed", "backend", "sync_checks"):
        assert f"<code>{parameter}</code>" in api, parameter  # the class's own parameter table
    assert "Source code in" in api and "mean_positive" in api
    # The defaults as values, in the signatures and the parameter tables (not the names of aliases)
    text = html.unescape(re.sub(r"<[^>]+>", "", api))
    for entry in ("SoftmaxFocalLoss(alpha=None, ", "softmax_focal_loss(inputs: Tensor, targets: Tensor, alpha=None, "):
        signature = text.split(entry, 1)[1].split(")", 1)[0]
        for default in ("gamma: float = 2.0", "reduction: str = 'mean'", "label_smoothing: float = 0.0",
                        "ignore_index: int = -100", "background_class: int = 0", "backend: str = 'auto'"):
            assert default in signature, (entry, default, signature)
    assert "_D." not in text
    openmmlab = open(tmp_path / "site" / "api" / "openmmlab" / "index.html").read()
    openmmlab = html.unescape(re.sub(r"<[^>]+>", "", openmmlab))
    # The adapter passes the options through to SoftmaxFocalLoss (written once, there) and says so
    signature = openmmlab.split("OpenMMLabSoftmaxFocalLoss(alpha=None, ", 1)[1].split(")", 1)[0]
    assert "loss_weight: float = 1.0" in signature and signature.endswith("**options"), signature
    assert "Takes every core argument as a keyword (SoftmaxFocalLoss's, with its defaults)" in openmmlab


@pytest.mark.parametrize("page", [p for p in pages() if python_blocks(p)])
def test_code_blocks_run(page):
    namespace = {"__name__": f"docs_{page}"}
    for block in python_blocks(page):
        first = block.splitlines()[0] if block.strip() else ""
        if first.startswith("# docs: skip"):
            continue
        exec(compile(block, f"{page} (code block)", "exec"), namespace)


def test_every_page_is_reachable():
    nav = open(os.path.join(ROOT, "mkdocs.yml")).read()
    assert all(page in nav for page in pages()), [p for p in pages() if p not in nav]


# A repository path in prose: a top-level folder of ours, then a path (globs allowed; placeholders
# such as <NAME> or {split} are skipped).
REPO_PATH = re.compile(r"(?<![\w./-])((?:imbalanced_losses|tools|tests|configs|projects|docs|requirements|examples"
                       r"|\.ci)/[\w./*+-]*[\w*])")


def named_paths(text):
    for match in REPO_PATH.finditer(text):
        path = match.group(1).rstrip(".")
        if not any(ch in path for ch in "<>{}"):
            yield path


def test_every_repository_path_the_docs_and_tools_name_exists():
    """README, the docs site, the Makefile and the tools' docstrings and help name files that exist
    (the CHANGELOG is history: it names old paths on purpose)."""
    sources = (["README.md", "Makefile"] + glob.glob("docs/**/*.md", recursive=True, root_dir=ROOT)
               + glob.glob("tools/**/*.py", recursive=True, root_dir=ROOT)
               + glob.glob("tools/**/*.sh", recursive=True, root_dir=ROOT))
    missing = []
    for source in sources:
        for path in named_paths(open(os.path.join(ROOT, source)).read()):
            full = os.path.join(ROOT, path)
            if not (glob.glob(full) if "*" in path else os.path.exists(full)):
                missing.append(f"{source}: {path}")
    assert len(sources) > 30 and not missing, missing


def test_the_path_check_sees_a_missing_path():
    assert list(named_paths("see `tools/nowhere.py`, <data>/x and tools/{a}.py.")) == ["tools/nowhere.py"]


# A dotted name of ours in prose or an API page: imbalanced_losses.<module>[.<attribute>...]
DOTTED_NAME = re.compile(r"(?<![\w./-])(imbalanced_losses(?:\.[A-Za-z_]\w*)+)")


def resolves(dotted):
    """Whether ``dotted`` is an importable module, or an attribute chain of the longest one."""
    import importlib
    import importlib.util
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        module = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module)
        except ImportError as error:
            if "is not installed" in str(error):
                # an extra of ours whose dependency this venv lacks (torchvision has its own): it exists
                return importlib.util.find_spec(module) is not None
            continue
        try:
            for name in parts[split:]:
                obj = getattr(obj, name)
        except AttributeError:
            return False
        return True
    return False


def test_every_api_reference_and_dotted_name_in_the_docs_resolves():
    """Every ``::: name`` of the API pages (and its ``members`` list), every ``imbalanced_losses.x.y``
    that README, the guides and the docstrings of the package name, exists (a renamed function
    would otherwise leave a page or a docstring pointing nowhere)."""
    pytest.importorskip("mmdet")
    pytest.importorskip("mmseg")
    sources = (["README.md"] + glob.glob("docs/**/*.md", recursive=True, root_dir=ROOT)
               + glob.glob("imbalanced_losses/**/*.py", recursive=True, root_dir=ROOT))
    missing = []
    for source in sources:
        text = open(os.path.join(ROOT, source)).read()
        names = set(DOTTED_NAME.findall(text))
        for reference, options in re.findall(r"^::: ([\w.]+)\n((?:    .*\n)*)", text, re.M):
            names.add(reference)
            members = re.search(r"members: \[([^\]]*)\]", options)
            names.update(f"{reference}.{m.strip()}" for m in (members.group(1) if members else "").split(",")
                         if m.strip())
        missing += [f"{source}: {name}" for name in sorted(names)
                    if not name.endswith(("_", ".py")) and not resolves(name.rstrip("."))]
    assert not missing, missing


def test_the_name_check_sees_a_missing_name():
    assert resolves("imbalanced_losses.statistics.coco.class_frequency_groups")
    assert not resolves("imbalanced_losses.statistics.coco.frequency_groups")
    page = "::: imbalanced_losses.statistics.coco\n    options:\n      members: [class_counts, frequency_groups]\n"
    assert re.findall(r"^::: ([\w.]+)\n((?:    .*\n)*)", page, re.M)[0][1].endswith("frequency_groups]\n")
