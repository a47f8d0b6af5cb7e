"""Two campaigns on one NATS server at the same time: each gets all of its own work and none of the other's."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import FIXTURES, git, make_workspace
from tests.e2e.test_up import results_rows, run_up


async def test_two_campaigns_on_one_server_each_finish_with_only_their_own_rows(tmp_path: Path, nats_server: str) -> None:
    toy = (FIXTURES / "toy_train.py").read_text()
    # the workspaces differ, so no commit of one campaign can have the hash of the other's
    workspaces = {tag: make_workspace(tmp_path / tag, f"# {tag}\n{toy}") for tag in ("north", "south")}

    done = await asyncio.gather(*(
        asyncio.to_thread(run_up, workspace, nats_server, "--tag", tag, "--max-experiments", "3", timeout=240)
        for tag, workspace in workspaces.items()
    ))

    for finished in done:
        assert finished.returncode == 0, finished.stdout + finished.stderr
    rows = {tag: results_rows(workspace) for tag, workspace in workspaces.items()}
    for tag, workspace in workspaces.items():
        assert len(rows[tag]) == 1 + 3, rows[tag]
        assert [row[4] for row in rows[tag]].count("baseline") == 1
        for commit, *_ in rows[tag]:  # every row ran here: the baseline, a kept or a discarded commit of this campaign
            assert git(workspace, "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    assert not {row[0] for row in rows["north"]} & {row[0] for row in rows["south"]}
