"""When `up` believes its campaign has ended: a campaign.finished that the rest of the record bears out."""

from __future__ import annotations

import asyncio

from services.trainer.progress import CampaignProgress
from shared.bus import Bus
from shared.events import CampaignFinished, ProposalExhausted, ProposalRejected, ProposalRequested, VerdictDecided
from shared.replay import replay

RECORD = [ProposalRequested, ProposalRejected, ProposalExhausted, VerdictDecided, CampaignFinished]


async def finish_borne_out(bus: Bus, campaign: str) -> bool:
    """True when the record holds a campaign.finished for as many experiments as were decided, with no ticket open.

    The trainer announces the end only once every ticket it issued is decided or set free, so an end
    published in the middle of a run (by anyone) does not match the record and does not stop `up`. The
    record is read with the trainer's own fold, so both count tickets and decisions by one rule.
    """
    progress = CampaignProgress(campaign)
    for event in await replay(bus, RECORD, campaign):
        progress.apply(event)
    return progress.baseline_decided and progress.outstanding == 0 and progress.decided in progress.announced


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
