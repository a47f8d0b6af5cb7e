"""A campaign whose branch exists but whose record is gone is never begun again from a new baseline."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.trainer.config import TrainerSettings
from services.trainer.main import open_campaign
from services.trainer.workspace import Workspace, WorkspaceError
from shared.bus import Bus
from shared.events import CampaignStarted
from shared.replay import replay
from tests.conftest import git, make_workspace


async def test_an_existing_branch_without_a_record_is_refused_and_nothing_is_announced(bus: Bus, tmp_path: Path):
    path = make_workspace(tmp_path / "ws", "LR = 0.1\n")
    git(path, "branch", "autoresearch/lost")
    settings = TrainerSettings(workspace=path, tag="lost", state_dir=tmp_path / "state")
    with pytest.raises(WorkspaceError, match="no record of campaign lost"):
        await open_campaign(bus, settings, Workspace(path, "lost"), "trainer/test")
    assert await replay(bus, [CampaignStarted], "lost") == []


async def test_a_new_branch_is_opened_and_announced(bus: Bus, tmp_path: Path):
    path = make_workspace(tmp_path / "ws", "LR = 0.1\n")
    settings = TrainerSettings(workspace=path, tag="fresh", state_dir=tmp_path / "state")
    progress = await open_campaign(bus, settings, Workspace(path, "fresh"), "trainer/test")
    assert progress.started is not None and [e.campaign for e in await replay(bus, [CampaignStarted], "fresh")] == ["fresh"]
