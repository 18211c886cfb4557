"""The README's quick examples (those of the API we implement, verbatim) run as written, in order."""
import os
import re

import torch

from tests.paths import ROOT

README = os.path.join(ROOT, "README.md")


def quick_example_blocks():
    text = open(README).read()
    section = text.split("<!-- --8<-- [start:quick-examples] -->")[1].split("<!-- --8<-- [end:quick-examples] -->")[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_quick_examples_run_verbatim():
    blocks = quick_example_blocks()
    assert len(blocks) == 3
    namespace = {}
    for block in blocks:
        exec(compile(block, README, "exec"), namespace)
    loss = namespace["loss"]
    assert loss.shape == () and torch.isfinite(loss)
    assert namespace["logits"].shape == (4, 10, 64, 64)
