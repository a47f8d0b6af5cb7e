"""A GPU where train.py needs CUDA: nvidia-smi lists one, and torch in the run's interpreter sees it."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING

from autoresearch.doctor.findings import Finding, failed, passed
from autoresearch.doctor.sources import SourceError, needs_cuda, parse_file

if TYPE_CHECKING:
    from autoresearch.doctor.setup import Setup

NAME = "gpu"
NO_GPU_FIX = "run on a machine whose NVIDIA GPU and driver `nvidia-smi` lists, or give train.py a CPU fallback"
HIDDEN = {"", "-1", "none", "NoDevFiles"}  # CUDA_VISIBLE_DEVICES values that hide every GPU
# Importing torch takes seconds; it is asked only where train.py needs CUDA and nvidia-smi lists a GPU.
_PROBE = ("import json, torch\n"
          "print(json.dumps({'available': torch.cuda.is_available(), 'count': torch.cuda.device_count(),"
          " 'cuda': torch.version.cuda, 'torch': torch.__version__}))")


def nvidia_gpus(path: str) -> list[str] | None:
    """The GPUs `nvidia-smi -L` lists (found on path); None without nvidia-smi, [] when it lists none or fails."""
    smi = shutil.which("nvidia-smi", path=path)
    if smi is None:
        return None
    try:
        done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.startswith("GPU ")]


def torch_cuda(python: str, env: Mapping[str, str]) -> tuple[bool, str]:
    """Whether torch in python sees a CUDA device, and what it said."""
    try:
        done = subprocess.run([python, "-c", _PROBE], env=dict(env), capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        report = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        return False, f"asking torch failed: {exc}"
    if report is None:
        lines = done.stderr.strip().splitlines()
        return False, lines[-1][:300] if lines else f"exit code {done.returncode}"
    seen = f"torch {report['torch']}, CUDA {report['cuda'] or 'none (a CPU-only build)'}, {report['count']} device(s)"
    return bool(report["available"]), seen


def check_gpu(setup: Setup) -> list[Finding]:
    """Only where train.py uses CUDA with no CPU fallback: a GPU is listed and the run's torch can use it."""
    try:
        tree = parse_file(setup.workspace / "train.py")
    except SourceError as error:
        return [passed(NAME, f"not checked: {error}")]
    if not needs_cuda(tree):
        return [passed(NAME, "not needed: train.py does not use CUDA, or falls back to the CPU")]
    gpus = nvidia_gpus(setup.run_env.get("PATH", ""))
    if gpus is None:
        return [failed(NAME, "train.py needs CUDA (no CPU fallback) but no GPU is visible: nvidia-smi is not on PATH",
                       NO_GPU_FIX)]
    if not gpus:
        return [failed(NAME, "train.py needs CUDA (no CPU fallback) but nvidia-smi lists no GPU", NO_GPU_FIX)]
    if setup.run_env.get("CUDA_VISIBLE_DEVICES", "x").strip() in HIDDEN:
        return [failed(NAME, "train.py needs CUDA but CUDA_VISIBLE_DEVICES hides every GPU from runs",
                       "unset CUDA_VISIBLE_DEVICES, or name a GPU with `up --gpu ID`")]
    if setup.interpreter is not None:
        available, seen = torch_cuda(setup.interpreter, setup.run_env)
        if not available:
            return [failed(NAME, f"nvidia-smi lists {gpus[0]}, but torch in {setup.interpreter} cannot use it: {seen}",
                           "install a CUDA build of torch in that environment (with uv: the workspace's pyproject.toml "
                           "pins it; run `uv sync`)")]
    more = f" and {len(gpus) - 1} more" if len(gpus) > 1 else ""
    return [passed(NAME, f"{gpus[0]}{more}")]
