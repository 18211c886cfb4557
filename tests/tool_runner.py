"""Running tools/ as subprocesses on small generated data (shared by the tools, faults and COCO tests)."""
import os
import subprocess
import sys

from tests.paths import ROOT

CONFIG = os.path.join(ROOT, "configs", "retinanet", "retinanet_r18-half_fpn_softmax-focal_30e_shapes.py")
TIMEOUT_S = 300


def tool_env(cwd, env_extra=None):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + cwd, PYTHON=sys.executable, OMP_NUM_THREADS="1")
    env.update(env_extra or {})
    return env


def run(args, cwd, env_extra=None, expect_success=True):
    result = subprocess.run(args, cwd=cwd, env=tool_env(cwd, env_extra), capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    output = result.stdout + result.stderr
    if expect_success:
        assert result.returncode == 0, output[-5000:]
    return output


def tool(name):
    return os.path.join(ROOT, "tools", name)


def make_shapes_workspace(root, num_train=16, num_val=8):
    """``root``/data/shapes with the demo profile's generator, where the configs find it."""
    run([sys.executable, tool("generate_shapes_dataset.py"), "--out", "data/shapes", "--num-train", str(num_train),
         "--num-val", str(num_val)], cwd=str(root))
    return str(root)


def write_config_with_hook(workspace, name, hook_source, hook_type):
    """``name``.py in ``workspace``: CONFIG plus a custom hook defined in ``name``_hook.py."""
    with open(os.path.join(workspace, f"{name}_hook.py"), "w") as f:
        f.write(hook_source)
    with open(os.path.join(workspace, f"{name}.py"), "w") as f:
        f.write(f"_base_ = {CONFIG!r}\n"
                f"custom_imports = dict(imports=['imbalanced_losses.mmdet', '{name}_hook'],\n"
                "                      allow_failed_imports=False)\n"
                f"custom_hooks = [dict(type='{hook_type}')]\n")
    return f"{name}.py"
