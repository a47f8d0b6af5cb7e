"""The CLI's one event tail on a real nats-server: its campaign's valid events, in order, and nothing else."""

from __future__ import annotations

import asyncio

from autoresearch.tail import EventTail
from shared.bus import Bus
from shared.events import CampaignStarted, Event, RunProgress, VerdictDecided
from tests.ledger_support import CampaignScript


async def until(condition, seconds: float = 15.0) -> None:
    """Wait until condition() holds; fail the test after seconds."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"not met within {seconds} s")


async def test_tail_hands_over_only_its_campaigns_valid_events_in_order(bus: Bus, nats_server: str) -> None:
    seen: list[Event] = []
    tail = EventTail(nats_server, "nov27", seen.append)
    await tail.start()
    ours = CampaignScript("nov27").start(0).baseline(1.0, 10, 70)
    ours.running("wider MLP", start=80, step=10, percent=5.0, loss=3.1, progress_at=90)
    other = CampaignScript("other").start(0).baseline(1.2, 10, 70)
    try:
        await bus.nc.publish(VerdictDecided.subject, b"{not json")
        await bus.nc.publish(RunProgress.subject, ours.events[0].model_dump_json().encode())  # valid, on the wrong subject
        for mine, theirs in zip(ours.events, other.events, strict=False):
            await bus.publish(theirs)
            await bus.publish(mine)
        for event in ours.events[len(other.events):]:
            await bus.publish(event)
        sentinel = ours.events[-1].model_copy(update={"event_id": "sentinel"})
        await bus.publish(sentinel)  # published last: once it is seen, anything before it has been handed over
        await until(lambda: any(event.event_id == "sentinel" for event in seen))
    finally:
        await tail.close()

    assert [event.event_id for event in seen] == [event.event_id for event in ours.events] + ["sentinel"]
    assert {event.subject for event in seen} >= {CampaignStarted.subject, RunProgress.subject, VerdictDecided.subject}


async def test_tail_without_a_campaign_hands_over_every_campaign(bus: Bus, nats_server: str) -> None:
    seen: list[Event] = []
    tail = EventTail(nats_server, None, seen.append)
    await tail.start()
    events = CampaignScript("nov27").start(0).events + CampaignScript("other").start(0).events
    try:
        for event in events:
            await bus.publish(event)
        await until(lambda: len(seen) >= len(events))
    finally:
        await tail.close()

    assert sorted(event.campaign for event in seen) == ["nov27", "other"], seen
