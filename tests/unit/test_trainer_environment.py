"""The environment recorded with each run."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer import environment
from services.trainer.environment import gpu_name, run_environment, workspace_seed


def test_seed_is_read_from_train_py(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("DEPTH = 4\nSEED = 1337  # fixed\n")
    assert workspace_seed(tmp_path) == "1337"


def test_no_seed_when_train_py_sets_none_or_is_missing(tmp_path: Path) -> None:
    assert workspace_seed(tmp_path) is None
    (tmp_path / "train.py").write_text("seed = 3\nMY_SEED = 4\n")
    assert workspace_seed(tmp_path) is None


def test_environment_names_command_gpu_and_seed(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("SEED = 7\n")
    recorded = run_environment("python train.py", tmp_path, "1", "NVIDIA H100")
    assert recorded["command"] == "python train.py" and recorded["gpu"] == "NVIDIA H100"
    assert recorded["cuda_visible_devices"] == "1" and recorded["seed"] == "7"
    assert recorded["host"] and recorded["torch"]


def test_gpu_is_none_without_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment.shutil, "which", lambda name: None)
    assert gpu_name("0") == "none"
