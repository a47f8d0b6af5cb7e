"""When `up` believes its campaign has ended: a campaign.finished that the rest of the record bears out."""

from __future__ import annotations

import asyncio

from shared.bus import Bus
from shared.events import (
    CampaignFinished, ProposalExhausted, ProposalRejected, ProposalRequested, VerdictDecided,
)
from shared.ids import experiment_id
from shared.replay import replay

RECORD = [ProposalRequested, ProposalRejected, ProposalExhausted, VerdictDecided, CampaignFinished]


async def finish_borne_out(bus: Bus, campaign: str) -> bool:
    """True when the record holds a campaign.finished for as many experiments as were decided, with no ticket open.

    The trainer announces the end only once every ticket it issued is decided or set free, so an end
    published in the middle of a run (by anyone) does not match the record and does not stop `up`.
    """
    tickets: set[str] = set()
    settled: set[str] = set()
    decided: set[str] = set()
    baseline = False
    finishes: list[CampaignFinished] = []
    for event in await replay(bus, RECORD, campaign):
        if isinstance(event, ProposalRequested):
            if event.sequence <= len(tickets) + 1 and event.experiment_id == experiment_id(campaign, event.sequence):
                tickets.add(event.experiment_id)
        elif isinstance(event, ProposalRejected | ProposalExhausted):
            settled.add(event.experiment_id)
        elif isinstance(event, VerdictDecided):
            baseline |= event.baseline
            if not event.baseline:
                decided.add(event.experiment_id)
        elif isinstance(event, CampaignFinished):
            finishes.append(event)
    open_tickets = tickets - settled - decided
    return baseline and not open_tickets and any(finish.experiments == len(decided) for finish in finishes)


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
