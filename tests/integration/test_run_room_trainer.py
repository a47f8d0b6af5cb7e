"""The whole trainer service runs its baseline in a clean room: an allow-listed environment, the bundled workspace's data."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import pytest

from autoresearch.workspace import init_workspace
from services.trainer.config import TrainerSettings
from services.trainer.main import serve
from shared.bus import Bus
from shared.events import RunFinished
from shared.replay import replay
from tests.conftest import git, make_workspace

TAG = "room"
WATCHED = ("OPENAI_API_KEY", "NATS_URL", "NATS_CREDS", "AUTORESEARCH_LLM_API_KEY", "DATABASE_URL", "PYTHONPATH")
SNOOPING_TRAIN_PY = f"""import os
found = [name for name in {WATCHED!r} if name in os.environ]
print("---")
print("val_bpb: 1.0")
print("found:", ",".join(found) or "none")
print("wandb:", os.environ.get("WANDB_API_KEY", "absent"))
"""


async def baseline_run(bus: Bus, settings: TrainerSettings) -> RunFinished:
    """Start the trainer service, wait for its baseline's run.finished, stop it."""
    stop = asyncio.Event()
    trainer = asyncio.create_task(serve(bus, stop, settings))
    try:
        for _ in range(3000):
            finished = await replay(bus, [RunFinished], settings.tag)
            if finished or trainer.done():
                break
            await asyncio.sleep(0.05)
        assert finished, trainer.exception() if trainer.done() else "no run finished"
        return finished[0]
    finally:
        stop.set()
        await asyncio.wait_for(trainer, 30)


async def test_a_run_sees_no_secret_or_bus_setting_of_its_trainer_but_what_pass_env_names(
    bus: Bus, nats_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
):
    for name, value in {"OPENAI_API_KEY": "sk-leak", "NATS_URL": nats_server, "NATS_CREDS": "/bus.creds",
                        "AUTORESEARCH_LLM_API_KEY": "llm-leak", "DATABASE_URL": "postgres://u:pw@db/x",
                        "PYTHONPATH": str(tmp_path), "WANDB_API_KEY": "wandb-for-the-run"}.items():
        monkeypatch.setenv(name, value)
    workspace = make_workspace(tmp_path / "workspace", SNOOPING_TRAIN_PY)
    settings = TrainerSettings(workspace=workspace, tag=TAG, state_dir=tmp_path / "state", max_experiments=0,
                               train_command=f"{sys.executable} train.py", instance="test", pass_env=["WANDB_API_KEY"])

    finished = await baseline_run(bus, settings)

    assert finished.metrics["found"] == "none"
    assert finished.metrics["wandb"] == "wandb-for-the-run"


async def test_the_bundled_workspace_trains_in_its_room_on_the_data_it_prepared(bus: Bus, tmp_path: Path):
    workspace = init_workspace(tmp_path / "workspace", time_budget=1)
    prepare = (workspace / "prepare.py").read_text()
    (workspace / "prepare.py").write_text(prepare.replace("EVAL_TOKENS = 32768", "EVAL_TOKENS = 2048"))  # a short test
    git(workspace, "commit", "-qam", "a smaller evaluation")
    data = {path.name: path.read_bytes() for path in (workspace / ".cache" / "data").iterdir()}
    settings = TrainerSettings(workspace=workspace, tag=TAG, state_dir=tmp_path / "state", max_experiments=0,
                               instance="test")

    finished = await baseline_run(bus, settings)

    assert finished.status == "ok", finished.log_tail
    assert math.isfinite(finished.metrics["val_bpb"]) and finished.metrics["num_steps"] >= 1
    log = (workspace / "run.log").read_text()
    assert "building data cache" not in log  # it read the data init prepared, copied into its room
    assert {path.name: path.read_bytes() for path in (workspace / ".cache" / "data").iterdir()} == data
