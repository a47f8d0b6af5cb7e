"""Reading the streams back: the requested event types of one campaign, in order, without malformed messages,
and a cursor that returns only what came since its last call."""

from __future__ import annotations

import pytest

from shared.bus import PROGRESS_STREAM, STREAM, Bus
from shared.events import CommitStale, ProposalRequested, RunProgress, VerdictDecided
from shared.replay import StreamCursor, replay

HEAD = "a" * 40


def verdict(campaign: str, number: int) -> VerdictDecided:
    return VerdictDecided(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="test/1",
                          commit=f"{number:040d}", status="keep", head=HEAD)


def ticket(campaign: str, number: int) -> ProposalRequested:
    return ProposalRequested(campaign=campaign, experiment_id=f"{campaign}-{number:04d}", producer="test/1",
                             base_commit=HEAD, sequence=number)


def step(campaign: str, number: int) -> RunProgress:
    return RunProgress(campaign=campaign, experiment_id=f"{campaign}-0001", producer="test/1", commit=HEAD,
                       step=number, loss=1.0 / (number + 1))


async def publish_mix(bus: Bus) -> None:
    await bus.publish(verdict("c1", 1))
    await bus.publish(ticket("c1", 2))
    await bus.publish(verdict("c2", 1))
    await bus.js.publish(VerdictDecided.subject, b"{garbage", stream=STREAM)
    await bus.js.publish(VerdictDecided.subject, ticket("c1", 9).model_dump_json().encode(), stream=STREAM)
    await bus.publish(CommitStale(campaign="c1", experiment_id="c1-0002", producer="test/1", commit=HEAD, head=HEAD))
    await bus.publish(verdict("c1", 3))


async def test_replay_of_an_empty_stream_is_empty(bus: Bus):
    assert await replay(bus, [VerdictDecided]) == []


async def test_replay_returns_requested_types_of_the_campaign_in_order(bus: Bus):
    await publish_mix(bus)
    events = await replay(bus, [VerdictDecided, ProposalRequested], "c1")
    assert [(type(e).__name__, e.experiment_id) for e in events] == [
        ("VerdictDecided", "c1-0001"), ("ProposalRequested", "c1-0002"), ("VerdictDecided", "c1-0003"),
    ]


async def test_replay_without_a_campaign_returns_every_campaign(bus: Bus):
    await publish_mix(bus)
    events = await replay(bus, [VerdictDecided])
    assert [e.experiment_id for e in events] == ["c1-0001", "c2-0001", "c1-0003"]


async def test_replay_pages_through_many_events_in_order(bus: Bus):
    for number in range(1, 301):
        await bus.publish(verdict("c1", number))
    events = await replay(bus, [VerdictDecided], "c1")
    assert [e.experiment_id for e in events] == [f"c1-{n:04d}" for n in range(1, 301)]


async def test_replay_leaves_no_consumer_behind(bus: Bus):
    await publish_mix(bus)
    await replay(bus, [VerdictDecided])
    info = await bus.js.stream_info(STREAM)
    assert info.state.consumer_count == 0


async def test_cursor_returns_only_events_published_since_its_last_call(bus: Bus):
    cursor = StreamCursor(bus, [VerdictDecided], "c1")
    await bus.publish(verdict("c1", 1))
    await bus.publish(verdict("c1", 2))
    assert [e.experiment_id for e in await cursor.fetch_new()] == ["c1-0001", "c1-0002"]
    assert await cursor.fetch_new() == []
    await bus.publish(ticket("c1", 3))  # another type moves the stream on, but is not the cursor's
    await bus.publish(verdict("c2", 1))  # another campaign
    await bus.publish(verdict("c1", 3))
    assert [e.experiment_id for e in await cursor.fetch_new()] == ["c1-0003"]
    assert (await bus.js.stream_info(STREAM)).state.consumer_count == 0


async def test_step_lines_live_in_their_own_bounded_stream_not_in_the_record(bus: Bus):
    for number in range(5):
        await bus.publish(step("c1", number))
    await bus.publish(verdict("c1", 1))
    record, progress = await bus.js.stream_info(STREAM), await bus.js.stream_info(PROGRESS_STREAM)
    assert (record.state.messages, progress.state.messages) == (1, 5)
    assert progress.config.max_msgs > 0  # retention is bounded; the record keeps everything
    assert record.config.max_msgs in (None, -1)
    assert [e.step for e in await replay(bus, [RunProgress], "c1")] == [0, 1, 2, 3, 4]


async def test_a_replay_across_both_streams_is_refused(bus: Bus):
    with pytest.raises(ValueError, match="exactly one stream"):
        await replay(bus, [VerdictDecided, RunProgress])


async def test_a_store_from_before_the_progress_stream_is_brought_up_to_date(bus: Bus):
    from nats.js import api as js_api

    from shared.bus import ensure_streams

    await bus.js.delete_stream(PROGRESS_STREAM)
    await bus.js.delete_stream(STREAM)
    old = ["campaign.*", "proposal.*", "commit.*", "run.*", "verdict.*"]
    await bus.js.add_stream(js_api.StreamConfig(name=STREAM, subjects=old, storage=js_api.StorageType.FILE))
    await bus.js.publish(VerdictDecided.subject, verdict("c1", 1).model_dump_json().encode(), stream=STREAM)
    await ensure_streams(bus.js)
    await bus.publish(step("c1", 1))
    assert [e.experiment_id for e in await replay(bus, [VerdictDecided])] == ["c1-0001"]  # the record is kept
    assert (await bus.js.stream_info(PROGRESS_STREAM)).state.messages == 1
