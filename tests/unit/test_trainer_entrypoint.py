"""docker/trainer-entrypoint.sh run for real, with a fake `uv` on PATH that records how it was called."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).resolve().parents[2] / "docker" / "trainer-entrypoint.sh"
# The command the entrypoint hands over to: it prints what it was given, so the test sees the environment it got.
SHOW = ["sh", "-c", 'echo "ran in=$PWD no_sync=${UV_NO_SYNC:-} command=${AUTORESEARCH_TRAIN_COMMAND:-}"']


@dataclass
class Started:
    code: int
    stdout: str
    stderr: str
    uv_calls: list[str]


@pytest.fixture
def fake_uv(tmp_path: Path) -> Path:
    """A folder holding FakeUv: a `uv` that appends its arguments and working directory to calls.log."""
    folder = tmp_path / "bin"
    folder.mkdir()
    uv = folder / "uv"
    uv.write_text('#!/bin/sh\necho "$PWD $*" >> "$(dirname "$0")/calls.log"\nexit "${FAKE_UV_EXIT:-0}"\n')
    uv.chmod(0o755)
    return folder


def start(workspace: Path, fake_uv: Path, home: Path, **env: str) -> Started:
    home.mkdir(exist_ok=True)
    environment = {
        "PATH": f"{fake_uv}:{os.environ['PATH']}", "HOME": str(home), "AUTORESEARCH_WORKSPACE": str(workspace),
        "UV_PROJECT_ENVIRONMENT": str(home / "environment"), **env,
    }
    done = subprocess.run([str(ENTRYPOINT), *SHOW], cwd=home, env=environment, capture_output=True, text=True)
    log = fake_uv / "calls.log"
    return Started(done.returncode, done.stdout, done.stderr, log.read_text().splitlines() if log.exists() else [])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    (path / "train.py").write_text("print('val_bpb: 1.0')\n")
    return path


def test_a_locked_workspace_is_synced_exactly_to_its_lock_before_the_trainer_starts(
        workspace: Path, fake_uv: Path, tmp_path: Path) -> None:
    (workspace / "pyproject.toml").write_text('[project]\nname = "autoresearch"\nversion = "0.1.0"\n')
    (workspace / "uv.lock").write_text("version = 1\n")

    started = start(workspace, fake_uv, tmp_path / "home")

    assert started.code == 0, started.stderr
    assert started.uv_calls == [f"{workspace} sync --no-install-project --locked"]
    assert started.stdout.strip() == f"ran in={tmp_path / 'home'} no_sync=1 command="  # runs use `uv run` as synced


def test_a_workspace_without_a_lock_is_synced_without_locked(workspace: Path, fake_uv: Path, tmp_path: Path) -> None:
    (workspace / "pyproject.toml").write_text('[project]\nname = "w"\nversion = "0.1.0"\n')

    started = start(workspace, fake_uv, tmp_path / "home")

    assert started.code == 0 and started.uv_calls == [f"{workspace} sync --no-install-project"]


def test_a_workspace_without_pyproject_runs_with_the_images_python_and_never_calls_uv(
        workspace: Path, fake_uv: Path, tmp_path: Path) -> None:
    started = start(workspace, fake_uv, tmp_path / "home")
    chosen = start(workspace, fake_uv, tmp_path / "home", AUTORESEARCH_TRAIN_COMMAND="python3 train.py --fast")

    assert started.uv_calls == [] and started.stdout.strip().endswith("no_sync= command=python train.py")
    assert chosen.stdout.strip().endswith("command=python3 train.py --fast")  # what the person set wins


def test_a_failed_sync_stops_the_container_with_the_reason_and_never_starts_the_trainer(
        workspace: Path, fake_uv: Path, tmp_path: Path) -> None:
    (workspace / "pyproject.toml").write_text('[project]\nname = "w"\nversion = "0.1.0"\n')
    (workspace / "uv.lock").write_text("version = 1\n")

    started = start(workspace, fake_uv, tmp_path / "home", FAKE_UV_EXIT="2")

    assert started.code != 0 and "ran in=" not in started.stdout
    assert "uv sync failed" in started.stderr and "uv lock" in started.stderr


def test_an_empty_data_cache_is_pointed_out_with_the_command_that_fills_it(
        workspace: Path, fake_uv: Path, tmp_path: Path) -> None:
    (workspace / "pyproject.toml").write_text('[project]\nname = "w"\nversion = "0.1.0"\n')
    home = tmp_path / "home"
    (home / ".cache" / "autoresearch").mkdir(parents=True)
    empty = start(workspace, fake_uv, home)
    (home / ".cache" / "autoresearch" / "tokenizer").mkdir()
    filled = start(workspace, fake_uv, home)

    assert "docker compose run --rm trainer-prepare" in empty.stderr and empty.code == 0
    assert "trainer-prepare" not in filled.stderr


def test_the_entrypoint_hands_its_process_over_to_the_command(workspace: Path, fake_uv: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(ENTRYPOINT), "sh", "-c", 'echo "$$ $PPID"'], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": f"{fake_uv}:{os.environ['PATH']}", "AUTORESEARCH_WORKSPACE": str(workspace),
                               "HOME": str(tmp_path)})
    _, parent = done.stdout.split()
    assert parent == str(os.getpid())  # exec: signals from Docker reach the trainer itself, not a shell around it
