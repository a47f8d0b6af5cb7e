"""Where a run happened, so results from different machines are never silently mixed."""

from __future__ import annotations

import platform
import re
import shutil
import socket
import subprocess
from importlib import metadata
from pathlib import Path

_SEED = re.compile(r"^SEED\s*=\s*(-?\d+)\s*(?:#.*)?$", re.MULTILINE)


def gpu_name(gpu: str | None) -> str:
    """The name of the GPU a run gets, from nvidia-smi; 'none' without one."""
    if shutil.which("nvidia-smi") is None:
        return "none"
    args = ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"] + (["-i", gpu] if gpu else [])
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    names = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return names[0] if done.returncode == 0 and names else "unknown"


def workspace_seed(workspace: Path) -> str | None:
    """The SEED constant of the train.py that ran, if it sets one."""
    try:
        match = _SEED.search((workspace / "train.py").read_text(errors="replace"))
    except OSError:
        return None
    return match.group(1) if match else None


def run_environment(
    command: str, workspace: Path, gpu: str | None, gpu_label: str, isolation: str = "",
) -> dict[str, str]:
    """Host, platform, Python, torch, GPU, train command, seed of a run, and how it was held (containment.py)."""
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    environment = {"host": socket.gethostname(), "platform": platform.platform(), "python": platform.python_version(),
                   "torch": torch_version, "gpu": gpu_label, "command": command}
    if gpu is not None:
        environment["cuda_visible_devices"] = gpu
    seed = workspace_seed(workspace)
    if seed is not None:
        environment["seed"] = seed
    if isolation:
        environment["isolation"] = isolation
    return environment
