"""mmengine's ``compile=True``: the demo RetinaNet config and the segmentation twin train through
tools/train.py with ``model.train_step`` compiled by torch.compile (inductor, CPU), the loss
inside it. OpenMMLab's own code breaks the graph in places (its optimizer wrapper, samplers,
accuracy); ours must not: no graph break is located in imbalanced_losses/."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("mmdet")
pytest.importorskip("mmseg")
from tests.tool_runner import CONFIG, ROOT, tool_env  # noqa: E402

SEG_CONFIG = os.path.join(ROOT, "configs", "segmentation", "unet-s4-d8_fcn_softmax-focal_shapes-seg.py")
GENERATOR = os.path.join(ROOT, "tools", "generate_shapes_dataset.py")
BREAK = re.compile(r"Graph break in user code at (\S+)")
TIMEOUT_S = 1200  # inductor compiles the whole train step on 2 cores: 2-4 minutes measured, machines differ 4x


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("compile")
    for args in (["--out", "data/shapes", "--num-train", "4", "--num-val", "2"],
                 ["--profile", "segmentation", "--out", "data/shapes_seg", "--scale", "0.05"]):
        subprocess.run([sys.executable, GENERATOR, *args], cwd=root, check=True, capture_output=True)
    return str(root)


@pytest.mark.parametrize("config, options", [
    (CONFIG, ["train_dataloader.batch_size=4", "train_cfg.max_epochs=1"]),  # 4 images: one iteration
    (SEG_CONFIG, ["train_dataloader.batch_size=2", "train_cfg.max_iters=1", "train_cfg.val_interval=1"]),
], ids=["retinanet", "segmentation"])
def test_compile_true_trains_with_the_loss_inside_the_compiled_step(workspace, config, options):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train.py"), config, "--work-dir", "wd",
                             "--cfg-options", "compile=True", "default_hooks.logger.interval=1", *options],
                            cwd=workspace, env=tool_env(workspace, dict(TORCH_LOGS="graph_breaks")),
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert 'Model has been "compiled"' in output
    losses = [float(v) for v in re.findall(r"\(train\).*?\bloss: ([-\d.naif]+)", output)]
    assert losses and all(0 < v < 100 for v in losses), losses
    breaks = BREAK.findall(output)
    assert breaks, "no graph-break log captured: the check below would say nothing"
    ours = [where for where in breaks if f"{os.sep}imbalanced_losses{os.sep}" in where]
    assert not ours, ours
