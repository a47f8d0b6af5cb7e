"""A baseline that cannot run ends `up` with its reason, proposes nothing, and a --resume ends the same way."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autoresearch.up import BASELINE_EXIT
from shared.bus import connect
from shared.events import CampaignFinished, ProposalCreated, ProposalRequested, RunFinished
from shared.replay import replay
from tests.e2e.test_up import results_rows, run_up

# the train command of a machine without the program it names (Karpathy's `uv run train.py` without uv);
# --skip-checks lets it reach the trainer, as it would from an `up` whose checks missed it
MISSING_TOOL = ("--skip-checks", "--train-command", "no-such-tool run train.py")


async def test_a_baseline_whose_train_command_is_missing_ends_up_with_the_reason_and_nothing_proposed(
    toy_workspace: Path, nats_server: str,
) -> None:
    done = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "gate", "--max-experiments", "3",
                                   *MISSING_TOOL)
    assert done.returncode == BASELINE_EXIT, done.stdout + done.stderr
    [said] = [line for line in done.stdout.splitlines() if line.startswith("baseline failed: ")]
    reason = said.removeprefix("baseline failed: ")
    assert reason.endswith("no-such-tool: not found")  # the shell's words, e.g. `/bin/sh: 1: exec: no-such-tool: not found`
    assert "last lines of run.log:" in done.stdout and f"  {reason}" in done.stdout.splitlines()
    assert [(row[1], row[2], row[3], row[4]) for row in results_rows(toy_workspace)] == [
        ("0.000000", "0.0", "crash", "baseline")]

    resumed = await asyncio.to_thread(run_up, toy_workspace, nats_server, "--tag", "gate", "--resume", *MISSING_TOOL)
    assert resumed.returncode == BASELINE_EXIT, resumed.stdout + resumed.stderr
    assert said in resumed.stdout.splitlines() and "another --tag" in resumed.stdout

    bus = await connect(nats_server, "test/observer")
    try:
        record = await replay(bus, [ProposalRequested, ProposalCreated, RunFinished, CampaignFinished], "gate")
    finally:
        await bus.close()
    assert [event for event in record if isinstance(event, (ProposalRequested, ProposalCreated))] == []
    [run] = [event for event in record if isinstance(event, RunFinished)]  # the resumed campaign ran nothing again
    assert run.baseline and run.metrics["crash_reason"] == reason
    ends = [event.reason for event in record if isinstance(event, CampaignFinished)]
    assert ends == [said] * 2  # one for each `up`
