"""`up` ends only on a campaign.finished that the record bears out: a forged end mid-campaign is ignored."""

from __future__ import annotations

import asyncio

from autoresearch.finish import finish_borne_out, wait_for_finish
from shared.bus import Bus
from shared.events import CampaignFinished, ProposalRequested, VerdictDecided
from shared.ids import experiment_id

HEAD = "a" * 40


def ticket(campaign: str, sequence: int) -> ProposalRequested:
    return ProposalRequested(campaign=campaign, experiment_id=experiment_id(campaign, sequence), producer="trainer/1",
                             base_commit=HEAD, sequence=sequence)


def verdict(campaign: str, sequence: int) -> VerdictDecided:
    return VerdictDecided(campaign=campaign, experiment_id=experiment_id(campaign, sequence), producer="evaluator/1",
                          commit=HEAD, status="keep" if sequence == 0 else "discard", head=HEAD, baseline=sequence == 0)


def finished(campaign: str, experiments: int) -> CampaignFinished:
    return CampaignFinished(campaign=campaign, experiment_id=experiment_id(campaign, experiments), producer="trainer/1",
                            experiments=experiments, head=HEAD, reason="reached its limit")


async def test_an_end_while_a_ticket_is_open_is_not_borne_out_until_the_record_catches_up(bus: Bus):
    for event in (verdict("c1", 0), ticket("c1", 1), ticket("c1", 2), verdict("c1", 1)):
        await bus.publish(event)
    await bus.publish(finished("c1", 1))  # published in the middle of experiment 2
    assert not await finish_borne_out(bus, "c1")
    await bus.publish(verdict("c1", 2))
    assert not await finish_borne_out(bus, "c1")  # two decided, but the end says one
    await bus.publish(finished("c1", 2))
    assert await finish_borne_out(bus, "c1")


async def test_a_ticket_number_out_of_order_does_not_count_as_open_or_decided(bus: Bus):
    for event in (verdict("c2", 0), ticket("c2", 1), verdict("c2", 1), ticket("c2", 999999), finished("c2", 1)):
        await bus.publish(event)
    assert await finish_borne_out(bus, "c2")


async def test_up_waits_past_a_forged_end_and_stops_at_the_real_one(bus: Bus):
    notices: list[str] = []
    for event in (verdict("c3", 0), ticket("c3", 1)):
        await bus.publish(event)
    finished_event, stop = asyncio.Event(), asyncio.Event()
    waiter = asyncio.create_task(wait_for_finish(bus, "c3", finished_event, stop, notices.append))
    await bus.publish(finished("c3", 0))
    finished_event.set()
    await asyncio.sleep(0.3)
    assert not waiter.done() and notices and "does not bear out" in notices[0]
    await bus.publish(verdict("c3", 1))
    await bus.publish(finished("c3", 1))
    finished_event.set()
    await asyncio.wait_for(waiter, 10)
