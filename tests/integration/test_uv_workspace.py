"""The trainer service on a uv workspace: one environment synced at the campaign's start, used as it is by every run."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.trainer.config import TrainerSettings
from services.trainer.main import serve
from services.trainer.uv_project import UvSyncError, default_environment
from shared.bus import Bus
from shared.events import CampaignStarted
from shared.replay import replay
from tests.fixtures.uv_workspace import make_lock_stale, make_uv_workspace
from tests.integration.test_run_room_trainer import baseline_run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's cache folder, where the runs' environment goes; UV_PROJECT_ENVIRONMENT unset."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))
    monkeypatch.delenv("UV_PROJECT_ENVIRONMENT", raising=False)
    monkeypatch.delenv("UV_NO_SYNC", raising=False)
    return tmp_path / "cache"


def settings_for(workspace: Path, tag: str, state: Path) -> TrainerSettings:
    """A trainer of campaign tag that stops after its baseline; its runs go through `uv run`."""
    return TrainerSettings(workspace=workspace, tag=tag, state_dir=state, max_experiments=0, instance="test",
                           train_command="uv run train.py", trust_printed_metric=True)


async def test_every_run_of_a_uv_workspace_uses_one_environment_synced_outside_its_room(
    bus: Bus, tmp_path: Path, cache: Path,
):
    workspace = make_uv_workspace(tmp_path / "clone")
    environment = default_environment(workspace, os.environ)

    first = await baseline_run(bus, settings_for(workspace, "first", tmp_path / "state"))
    made = (environment / "pyvenv.cfg").stat().st_ino if (environment / "pyvenv.cfg").exists() else None
    second = await baseline_run(bus, settings_for(workspace, "second", tmp_path / "state"))

    assert first.status == second.status == "ok", first.log_tail + second.log_tail
    assert first.metrics["prefix"] == second.metrics["prefix"] == str(environment)  # not a room's .venv
    assert first.metrics["room_venv"] == second.metrics["room_venv"] == "no"
    assert (environment / "pyvenv.cfg").stat().st_ino == made  # the second sync made nothing anew
    assert not (workspace / ".venv").exists()


async def test_a_lock_that_cannot_be_synced_refuses_the_setup_before_the_campaign_starts(
    bus: Bus, tmp_path: Path, cache: Path,
):
    workspace = make_uv_workspace(tmp_path / "clone")
    make_lock_stale(workspace)

    with pytest.raises(UvSyncError, match="uv lock"):
        await asyncio.wait_for(serve(bus, asyncio.Event(), settings_for(workspace, "stale", tmp_path / "state")), 60)

    assert await replay(bus, [CampaignStarted], "stale") == []


def test_the_trainer_process_exits_with_its_setup_code_on_a_lock_that_cannot_be_synced(
    nats_server: str, tmp_path: Path, cache: Path,
):
    workspace = make_uv_workspace(tmp_path / "clone")
    make_lock_stale(workspace)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AUTORESEARCH_", "NATS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "autoresearch", "service", "trainer", "--workspace", str(workspace), "--tag", "stale",
         "--state-dir", str(tmp_path / "state"), "--nats-url", nats_server, "--train-command", "uv run train.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "uv.lock" in done.stderr and "uv lock" in done.stderr
