"""Check that a training run killed with SIGKILL after its first checkpoint and resumed with
``--resume`` ends with the same weights and optimizer state as a run that was never interrupted.

    python tools/analysis_tools/check_exact_resume.py CONFIG --work-dir DIR [--nproc N] [--cfg-options k=v ...]

Trains CONFIG twice with ``tools/train.py`` (or ``tools/dist_train.sh`` with ``--nproc N``):
``DIR/uninterrupted`` to the end, and ``DIR/resumed``, whose rank 0 kills its own process group
with SIGKILL right after its first checkpoint is written (a hook added through a wrapper config),
then ``--resume`` to the end. Compares every tensor of the two final checkpoints (``state_dict``,
``optimizer``, ``param_schedulers``) and prints the largest differences; exits 1 if any tensor
differs. The checkpoints are read with the tools' weights-only loader. Configs need
``ExactResumeHook`` for the answer to be yes (``docs/guides/tools.md``, "Resuming").
"""
import argparse
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import textwrap

import torch
from mmengine.config import Config, DictAction

from imbalanced_losses.openmmlab.checkpoints import check_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

KILL_HOOK = textwrap.dedent('''
    """Rank 0 kills its own process group (itself and its loader workers) with SIGKILL once the
    first checkpoint is written: what a pre-empted job sees."""
    import os
    import signal

    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS


    @HOOKS.register_module()
    class KillAfterFirstCheckpointHook(Hook):
        priority = "LOWEST"  # after CheckpointHook (VERY_LOW) has written the file

        def _kill_once_saved(self, runner):
            if runner.rank == 0 and os.path.exists(os.path.join(runner.work_dir, "last_checkpoint")):
                os.killpg(os.getpgid(0), signal.SIGKILL)

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            self._kill_once_saved(runner)

        def after_train_epoch(self, runner):
            self._kill_once_saved(runner)
''')


def train_command(config, work_dir, nproc, cfg_options):
    if nproc > 1:
        command = ["bash", osp.join(ROOT, "tools", "dist_train.sh"), config, str(nproc)]
    else:
        command = [sys.executable, osp.join(ROOT, "tools", "train.py"), config]
    command += ["--work-dir", work_dir]
    return command + (["--cfg-options", *cfg_options] if cfg_options else [])


HOOK_KEYS = ("custom_hooks", "custom_imports")  # set by the wrapper config of the killed run


def split_options(cfg_options):
    """(the ``key=value`` strings for the killed run, which leave the hook keys to its wrapper
    config; the parsed values of all of them, as ``--cfg-options`` parses them)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, default={})
    parsed = parser.parse_args(["--cfg-options", *cfg_options]).cfg_options if cfg_options else {}
    kept = [item for item in cfg_options if item.split("=", 1)[0].split(".")[0] not in HOOK_KEYS]
    return kept, parsed


def write_killing_config(config, work_dir, options):
    """``config`` with ``options`` plus the kill hook, as a wrapper config in ``work_dir`` (the
    config's imports and hooks kept)."""
    base = Config.fromfile(config)
    base.merge_from_dict(options)
    imports = dict(base.get("custom_imports") or dict(imports=[]))
    imports["imports"] = list(imports.get("imports", [])) + ["kill_after_first_checkpoint"]
    hooks = [dict(hook) for hook in base.get("custom_hooks") or []] + [dict(type="KillAfterFirstCheckpointHook")]
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, "kill_after_first_checkpoint.py"), "w") as f:
        f.write(KILL_HOOK)
    path = osp.join(work_dir, "killing_config.py")
    with open(path, "w") as f:
        f.write(f"_base_ = {osp.abspath(config)!r}\ncustom_imports = {imports!r}\ncustom_hooks = {hooks!r}\n")
    return path


def run(command, env, log_path, expect_kill=False):
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = process.wait()
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
    if expect_kill and returncode == 0:
        raise SystemExit(f"error: the run finished without being killed (no checkpoint before the end?): {log_path}")
    if not expect_kill and returncode != 0:
        raise SystemExit(f"error: {' '.join(command)} failed with exit code {returncode}: see {log_path}")


def final_checkpoint(work_dir):
    path = open(osp.join(work_dir, "last_checkpoint")).read().strip()
    check_checkpoint(path)  # one line naming the file if it cannot be loaded weights-only
    return path, torch.load(path, map_location="cpu", weights_only=True)


def leaves(value, prefix=""):
    """Every leaf of a nested checkpoint entry (tensors, numbers, strings), by a dotted path."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from leaves(item, f"{prefix}.{index}")
    else:
        yield prefix, value


def compare(uninterrupted, resumed):
    """(name, largest absolute difference) of every tensor that differs, the number of tensors
    compared, and the other differences (names, step counters, learning rates, positions)."""
    differing, compared, other = [], 0, []
    for key in ("state_dict", "optimizer", "param_schedulers", "meta"):
        left, right = dict(leaves(uninterrupted.get(key))), dict(leaves(resumed.get(key)))
        if left.keys() != right.keys() and key != "meta":  # meta also holds the run's time and paths
            other.append(f"{key}: entries differ ({sorted(left.keys() ^ right.keys())[:5]} ...)")
        for name in sorted(left.keys() & right.keys()):
            a, b = left[name], right[name]
            if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
                compared += 1
                if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)) or a.shape != b.shape \
                        or a.dtype != b.dtype:
                    differing.append((f"{key}.{name}", float("inf")))
                elif not torch.equal(a, b):
                    largest = (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
                    differing.append((f"{key}.{name}", largest))
            elif (key != "meta" or name in ("epoch", "iter")) and a != b:
                other.append(f"{key}.{name}: {a!r} != {b!r}")
    return sorted(differing, key=lambda item: -item[1]), compared, other


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("--work-dir", required=True, help="holds uninterrupted/ and resumed/ (emptied first)")
    parser.add_argument("--nproc", type=int, default=1, help="processes (> 1: tools/dist_train.sh, torchrun)")
    parser.add_argument("--cfg-options", nargs="+", default=[], help="key=value overrides for every run")
    parser.add_argument("--out", help="write the comparison as JSON here")
    args = parser.parse_args()

    shutil.rmtree(args.work_dir, ignore_errors=True)
    uninterrupted_dir, resumed_dir = osp.join(args.work_dir, "uninterrupted"), osp.join(args.work_dir, "resumed")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, resumed_dir, os.getcwd(), env.get("PYTHONPATH")]))
    os.makedirs(uninterrupted_dir)
    run(train_command(args.config, uninterrupted_dir, args.nproc, args.cfg_options), env,
        osp.join(args.work_dir, "uninterrupted.log"))
    killing_options, parsed_options = split_options(args.cfg_options)
    killing_config = write_killing_config(args.config, resumed_dir, parsed_options)
    run(train_command(killing_config, resumed_dir, args.nproc, killing_options), env,
        osp.join(args.work_dir, "killed.log"), expect_kill=True)
    killed_at = open(osp.join(resumed_dir, "last_checkpoint")).read().strip()
    run(train_command(args.config, resumed_dir, args.nproc, args.cfg_options) + ["--resume"], env,
        osp.join(args.work_dir, "resumed.log"))

    (left_path, left), (right_path, right) = final_checkpoint(uninterrupted_dir), final_checkpoint(resumed_dir)
    differing, compared, other = compare(left, right)
    result = dict(config=args.config, nproc=args.nproc, killed_after=osp.basename(killed_at),
                  uninterrupted=left_path, resumed=right_path, tensors_compared=compared,
                  tensors_differing=len(differing), largest_differences=differing[:10], other_differences=other,
                  exact=not differing and not other)
    print(f"killed after {osp.basename(killed_at)}, resumed to {osp.basename(right_path)}; "
          f"{compared} tensors compared, {len(differing)} differ")
    for name, diff in differing[:10]:
        print(f"  {name}: largest |difference| {diff:.3g}")
    for line in other:
        print(f"  {line}")
    print("exact" if result["exact"] else "NOT exact")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)
    sys.exit(0 if result["exact"] else 1)


if __name__ == "__main__":
    main()
