"""Replaying the stream: the requested subjects of one campaign, in order, without malformed messages."""

from __future__ import annotations

from shared.bus import STREAM, Bus
from shared.events import CommitStale, ProposalRequested, VerdictDecided
from shared.history import replay

HEAD = "a" * 40


def verdict(campaign: str, number: int) -> VerdictDecided:
    return VerdictDecided(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="test/1",
                          commit=f"{number:040d}", status="keep", head=HEAD)


def ticket(campaign: str, number: int) -> ProposalRequested:
    return ProposalRequested(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="test/1",
                             base_commit=HEAD, sequence=number)


async def publish_mix(bus: Bus) -> None:
    await bus.publish(verdict("c1", 1))
    await bus.publish(ticket("c1", 2))
    await bus.publish(verdict("c2", 1))
    await bus.js.publish("verdict.decided", b"{garbage", stream=STREAM)
    await bus.js.publish("verdict.decided", ticket("c1", 9).model_dump_json().encode(), stream=STREAM)
    await bus.publish(CommitStale(campaign="c1", experiment_id="c1-0002", producer="test/1", commit=HEAD, head=HEAD))
    await bus.publish(verdict("c1", 3))


async def test_replay_of_an_empty_stream_is_empty(bus: Bus):
    assert await replay(bus, ["verdict.decided"]) == []


async def test_replay_returns_requested_subjects_of_the_campaign_in_order(bus: Bus):
    await publish_mix(bus)
    events = await replay(bus, ["verdict.decided", "proposal.requested"], "c1")
    assert [(type(e).__name__, e.experiment_id) for e in events] == [
        ("VerdictDecided", "c1-0001"), ("ProposalRequested", "c1-0002"), ("VerdictDecided", "c1-0003"),
    ]


async def test_replay_without_a_campaign_returns_every_campaign(bus: Bus):
    await publish_mix(bus)
    events = await replay(bus, ["verdict.decided"])
    assert [e.experiment_id for e in events] == ["c1-0001", "c2-0001", "c1-0003"]


async def test_replay_accepts_wildcard_subjects(bus: Bus):
    await publish_mix(bus)
    events = await replay(bus, ["commit.*"], "c1")
    assert [type(e) for e in events] == [CommitStale]


async def test_replay_pages_through_many_events_in_order(bus: Bus):
    for number in range(1, 301):
        await bus.publish(verdict("c1", number))
    events = await replay(bus, ["verdict.decided"], "c1")
    assert [e.experiment_id for e in events] == [f"c1-{n:04d}" for n in range(1, 301)]


async def test_replay_leaves_no_consumer_behind(bus: Bus):
    await publish_mix(bus)
    await replay(bus, ["verdict.decided"])
    info = await bus.js.stream_info(STREAM)
    assert info.state.consumer_count == 0
