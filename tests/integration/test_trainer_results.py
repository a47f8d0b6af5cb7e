"""The trainer keeps results.tsv in its workspace, on a real nats-server: a row per decided experiment, whole after a restart."""

from __future__ import annotations

import asyncio
import stat
import sys
from pathlib import Path

from services.trainer.config import TrainerSettings
from services.trainer.main import serve
from shared.bus import Bus
from shared.events import CampaignStarted, Event, RunFinished, VerdictDecided
from shared.ids import experiment_id
from shared.replay import replay
from shared.results_tsv import HEADER
from tests.conftest import FIXTURES, git, make_workspace

TAG = "results"


def settings(workspace: Path, state: Path) -> TrainerSettings:
    return TrainerSettings(workspace=workspace, tag=TAG, state_dir=state, max_experiments=0, instance="test",
                           train_command=f"{sys.executable} train.py", results_path=workspace / "results.tsv")


async def published(bus: Bus, kind: type[Event], trainer: asyncio.Task) -> list[Event]:
    """The campaign's events of one kind, once there is one (or the trainer ended)."""
    for _ in range(1500):
        if (found := await replay(bus, [kind], TAG)) or trainer.done():
            return found
        await asyncio.sleep(0.02)
    return []


async def until_file(path: Path, trainer: asyncio.Task) -> str:
    for _ in range(1500):
        if path.exists() or trainer.done():
            break
        await asyncio.sleep(0.02)
    return path.read_text() if path.exists() else ""


async def stop_trainer(stop: asyncio.Event, trainer: asyncio.Task) -> None:
    stop.set()
    await asyncio.wait_for(trainer, 30)


async def test_the_trainer_writes_a_row_per_experiment_it_decided_and_writes_them_again_after_a_restart(
        bus: Bus, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path / "workspace", (FIXTURES / "toy_train.py").read_text())
    results = workspace / "results.tsv"
    base = git(workspace, "rev-parse", "HEAD")
    stop = asyncio.Event()
    trainer = asyncio.create_task(serve(bus, stop, settings(workspace, tmp_path / "state")))
    try:
        baseline = await published(bus, RunFinished, trainer)
        assert baseline and baseline[0].commit == base
        # a verdict for a run that never happened here is set aside, as the trainer does: it is no row
        await bus.publish(VerdictDecided(campaign=TAG, experiment_id=experiment_id(TAG, 7), producer="evaluator/1",
                                         commit="f" * 40, status="keep", val_bpb=0.1, head="f" * 40, description="forged"))
        await bus.publish(VerdictDecided(campaign=TAG, experiment_id=experiment_id(TAG, 0), producer="evaluator/1",
                                         commit=base, status="keep", val_bpb=1.25, memory_gb=2.0, head=base, baseline=True))
        for _ in range(1500):
            if len(results.read_text().splitlines()) > 1 if results.exists() else trainer.done():
                break
            await asyncio.sleep(0.02)
    finally:
        await stop_trainer(stop, trainer)

    assert results.read_text() == f"{HEADER}\n{base[:7]}\t1.250000\t2.0\tkeep\tbaseline\n"
    assert stat.S_IMODE(results.stat().st_mode) == 0o644

    results.unlink()  # the workspace's file is gone: a restarted trainer writes it whole from the stream
    stop = asyncio.Event()
    trainer = asyncio.create_task(serve(bus, stop, settings(workspace, tmp_path / "state")))
    try:
        assert await published(bus, CampaignStarted, trainer)
        text = await until_file(results, trainer)
    finally:
        await stop_trainer(stop, trainer)
    assert text == f"{HEADER}\n{base[:7]}\t1.250000\t2.0\tkeep\tbaseline\n"
