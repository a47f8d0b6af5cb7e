"""When `up` believes its campaign has ended: a campaign.finished that the rest of the record bears out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from services.trainer.progress import CampaignProgress
from shared.bus import Bus
from shared.events import (
    CampaignFinished, ProposalExhausted, ProposalRejected, ProposalRequested, RunFinished, VerdictDecided,
)
from shared.replay import replay
from shared.text import printable

RECORD = [ProposalRequested, ProposalRejected, ProposalExhausted, VerdictDecided, CampaignFinished]
LOG_LINES_SHOWN, LINE_SHOWN_MAX = 15, 300


@dataclass(frozen=True)
class FailedBaseline:
    """Why a campaign's baseline failed, and the last lines of its run's log."""

    reason: str
    log_lines: list[str]


async def finish_borne_out(bus: Bus, campaign: str) -> bool:
    """True when the record holds a campaign.finished for as many experiments as were decided, with no ticket open,
    or one announced after the baseline failed.

    The trainer announces the end only once every ticket it issued is decided or set free, so an end
    published in the middle of a run (by anyone) does not match the record and does not stop `up`. The
    record is read with the trainer's own fold, so both count tickets and decisions by one rule.
    """
    progress = CampaignProgress(campaign)
    for event in await replay(bus, RECORD, campaign):
        progress.apply(event)
    if progress.baseline_failure is not None:  # nothing runs after a failed baseline: its end is the end
        return bool(progress.failure_told)
    return progress.baseline_decided and progress.outstanding == 0 and progress.decided in progress.announced


async def failed_baseline(bus: Bus, campaign: str) -> FailedBaseline | None:
    """The campaign's failed baseline, read with the trainer's fold; None when the baseline was kept (or is undecided)."""
    progress = CampaignProgress(campaign)
    for event in await replay(bus, [VerdictDecided], campaign):
        progress.apply(event)
    if progress.baseline_verdict is None:
        return None
    for event in await replay(bus, [RunFinished], campaign):  # few: nothing runs after a failed baseline
        progress.apply(event)
    crash = progress.baseline_crash
    lines = [printable(line)[:LINE_SHOWN_MAX] for line in (crash.log_tail if crash else "").splitlines() if line.strip()]
    return FailedBaseline(progress.baseline_failure or "", lines[-LOG_LINES_SHOWN:])


async def wait_for_finish(bus: Bus, campaign: str, finished: asyncio.Event, stop: asyncio.Event, notice) -> None:
    """Return once stop is set or a campaign.finished that the record bears out has arrived."""
    while not stop.is_set():
        done, stopping = asyncio.create_task(finished.wait()), asyncio.create_task(stop.wait())
        await asyncio.wait({done, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in (done, stopping):
            task.cancel()
        if stop.is_set() or await finish_borne_out(bus, campaign):
            return
        notice("a campaign.finished that the record does not bear out was ignored: experiments are still open")
        finished.clear()
