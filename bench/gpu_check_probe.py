"""What the GPU check finds before any campaign: git, the NVIDIA driver, and torch's view of CUDA, in a run's environment too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from services.trainer.runner import training_environment

PROBE = """
import json
found = {}
try:
    import torch
    found.update(torch=torch.__version__, cuda_build=torch.version.cuda, available=torch.cuda.is_available())
    if found["available"]:
        found.update(count=torch.cuda.device_count(), name=torch.cuda.get_device_name(0),
                     capability=".".join(map(str, torch.cuda.get_device_capability(0))))
except Exception as exc:
    found["error"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(found))
"""
# Variables a machine may need to reach its GPU that a run's environment does not pass unless named with --pass-env.
LIBRARY_VARIABLES = ("LD_LIBRARY_PATH", "LD_PRELOAD")


@dataclass
class Probe:
    """torch's view of CUDA in one environment."""

    torch: str | None = None
    cuda_build: str | None = None
    available: bool = False
    name: str | None = None
    capability: str | None = None
    error: str | None = None

    @classmethod
    def run(cls, python: str, env: dict[str, str] | None, timeout: float = 120.0) -> Probe:
        """Ask python (in env; None: this one) what torch sees; a probe that hangs or fails says so in error."""
        try:
            done = subprocess.run([python, "-c", PROBE], env=env, capture_output=True, text=True, timeout=timeout)
            found = json.loads(done.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            return cls(error=f"torch did not answer within {timeout:.0f} s")
        except (IndexError, ValueError):
            return cls(error=f"the probe failed: {done.stderr.strip()[-300:]}")
        return cls(**{k: found.get(k) for k in ("torch", "cuda_build", "name", "capability", "error")},
                   available=bool(found.get("available")))


def nvidia_smi() -> str | None:
    """The GPUs and driver nvidia-smi reports, one line each; None without nvidia-smi."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed: {exc}"
    return done.stdout.strip() or f"nvidia-smi failed: {done.stderr.strip()[:200]}"


def git_version() -> str | None:
    """git's version line; None when git is missing (every workspace is a git repository)."""
    if shutil.which("git") is None:
        return None
    return subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()


def run_probe() -> Probe:
    """What torch sees in the environment the trainer gives a run (its allow-list), not in this one."""
    return Probe.run(sys.executable, training_environment(dict(os.environ), gpu=None))


def dropped_library_variables() -> list[str]:
    """Library-path variables set here that a run's environment leaves out."""
    kept = training_environment(dict(os.environ), gpu=None)
    return [name for name in LIBRARY_VARIABLES if name in os.environ and name not in kept]


def no_cuda_advice(probe: Probe, smi: str | None) -> str:
    """What to do when torch sees no GPU, by the reason it most likely has."""
    if probe.error and probe.torch is None:
        return f"torch cannot be imported here ({probe.error}): run ./scripts/setup"
    if smi is None:
        build = "a CPU-only build" if probe.cuda_build is None else f"built for CUDA {probe.cuda_build}"
        return f"no NVIDIA driver here (nvidia-smi not found), so no GPU to check; torch {probe.torch} is {build}."
    if probe.cuda_build is None:
        return (f"torch {probe.torch} is a CPU-only build. Replace it with a CUDA build: `.venv/bin/pip uninstall -y torch "
                "&& ./scripts/setup` installs PyPI's torch, which on Linux x86_64 is built for CUDA 13 (NVIDIA driver "
                "580 or newer); for an older driver add TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 "
                "(or cu126) to ./scripts/setup.")
    return (f"torch {probe.torch} is built for CUDA {probe.cuda_build} but cannot use the GPU ({smi.splitlines()[0]}): "
            "most often a driver older than that CUDA needs; install a torch build for this driver with "
            "`.venv/bin/pip uninstall -y torch && TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 ./scripts/setup`.")
