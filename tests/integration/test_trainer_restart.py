"""The trainer restarted: the experiment limit it stored stays put, and a run its predecessor left behind is killed first."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from services.trainer.config import TrainerSettings
from services.trainer.main import open_campaign, serve
from services.trainer.run_record import RunRecord, record_path, write_record
from services.trainer.run_group import RunGroup
from services.trainer.workspace import Workspace
from shared.bus import Bus
from shared.events import CampaignLimited, CampaignStarted, VerdictDecided
from shared.ids import experiment_id
from shared.replay import replay
from tests.conftest import FIXTURES, make_workspace
from tests.unit.test_runner import alive

TAG = "limits"


def settings(workspace: Path, state: Path, max_experiments: int | None, session: str | None) -> TrainerSettings:
    return TrainerSettings(workspace=workspace, tag=TAG, state_dir=state, max_experiments=max_experiments,
                           session=session, train_command=f"{sys.executable} train.py", instance="test")


async def decide(bus: Bus, head: str, *sequences: int) -> None:
    """Verdicts as the evaluator would publish them."""
    for sequence in sequences:
        await bus.publish(VerdictDecided(campaign=TAG, experiment_id=experiment_id(TAG, sequence), producer="evaluator/1",
                                         commit=head, status="discard", head=head, baseline=sequence == 0))


async def reopen(bus: Bus, workspace: Path, state: Path, max_experiments: int | None, session: str | None) -> int | None:
    """A trainer (re)starting: the limit it works to."""
    progress = await open_campaign(bus, settings(workspace, state, max_experiments, session), Workspace(workspace, TAG), "t/1")
    return progress.limit


async def test_a_restarted_trainer_keeps_the_limit_its_session_stored(bus: Bus, tmp_path: Path):
    workspace = make_workspace(tmp_path / "workspace", (FIXTURES / "toy_train.py").read_text())
    state = tmp_path / "state"
    assert await reopen(bus, workspace, state, 4, "up-1") == 4
    head = Workspace(workspace, TAG).head()
    await decide(bus, head, 0, 1, 2)

    assert await reopen(bus, workspace, state, 4, "up-1") == 4  # the same `up`, its trainer killed and restarted
    assert await reopen(bus, workspace, state, 2, "up-2") == 4  # `up --resume --max-experiments 2`: 2 beyond 2 decided
    await decide(bus, head, 3)
    assert await reopen(bus, workspace, state, 2, "up-2") == 4
    assert await reopen(bus, workspace, state, 5, None) == 5  # a trainer on its own: 5 beyond the baseline in all

    stored = [(e.limit, e.session) for e in await replay(bus, [CampaignLimited], TAG)]
    assert stored == [(4, "up-1"), (4, "up-2"), (5, None)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
async def test_a_starting_trainer_kills_the_run_left_behind_before_it_opens_the_campaign(bus: Bus, tmp_path: Path):
    workspace = make_workspace(tmp_path / "workspace", (FIXTURES / "toy_train.py").read_text())
    state = tmp_path / "state"
    leftover = subprocess.Popen(["sleep", "60"], start_new_session=True)
    group = RunGroup.led_by(leftover.pid)
    write_record(record_path(state, TAG, workspace), RunRecord(
        group.pgid, leftover.pid, group.leader_start, group.boot, "2025-11-27T00:00:00+00:00", experiment_id(TAG, 1),
        "1" * 40, "sleep 60"))
    stop = asyncio.Event()
    trainer = asyncio.create_task(serve(bus, stop, settings(workspace, state, 0, "up-1")))
    try:
        for _ in range(500):
            if await replay(bus, [CampaignStarted], TAG) or trainer.done():
                break
            await asyncio.sleep(0.02)
        assert await replay(bus, [CampaignStarted], TAG)
        assert not alive(leftover.pid)
    finally:
        stop.set()
        await asyncio.wait_for(trainer, 30)
        if alive(leftover.pid):
            leftover.kill()
        leftover.wait()
