"""The in-process fan-out behind the live event stream, and the SSE messages it becomes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.ledger.api.events import sse_message, sse_messages
from services.ledger.broadcast import Broadcaster
from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from tests.ledger_support import CampaignScript


def script_events(campaign: str = "nov27") -> list:
    return CampaignScript(campaign).start(0).baseline(1.0, 10, 70).events


async def test_subscribers_get_new_events_of_their_campaign_only() -> None:
    live = Broadcaster()
    everything, ours = live.subscribe(), live.subscribe("nov27")
    mine, theirs = script_events("nov27")[0], script_events("other")[0]

    live.publish(mine)
    live.publish(theirs)

    assert [await everything.get(1), await everything.get(1)] == [mine, theirs]
    assert await ours.get(1) == mine and ours.queue.empty()


async def test_a_reader_that_falls_behind_is_cut_off_not_left_growing() -> None:
    live = Broadcaster(backlog=2)
    slow = live.subscribe()

    for event in script_events():  # four events into a queue of two
        live.publish(event)

    assert await slow.get(1) is None
    assert slow not in live.subscriptions


async def test_closing_ends_every_stream_and_refuses_new_readers() -> None:
    live = Broadcaster()
    reader = live.subscribe()
    live.publish(script_events()[0])

    live.close()

    assert await reader.get(1) is None
    assert await live.subscribe().get(1) is None and not live.subscriptions


async def test_handler_broadcasts_an_event_once_even_when_redelivered(tmp_path: Path) -> None:
    ctx = LedgerContext(EventStore(tmp_path / "events.sqlite3"), tmp_path / "results", {})
    reader = ctx.broadcaster.subscribe()
    event = script_events()[0]

    await on_event(event, ctx)
    await on_event(event, ctx)

    assert await reader.get(1) == event
    with pytest.raises(TimeoutError):
        await reader.get(0.05)


def test_sse_message_carries_id_type_and_the_event_json() -> None:
    event = script_events()[-1]

    lines = sse_message(event).split("\n")

    assert lines[0] == f"id: {event.event_id}" and lines[1] == "event: verdict.decided"
    assert json.loads(lines[2].removeprefix("data: "))["status"] == "keep"
    assert lines[3:] == ["", ""]


async def test_stream_sends_missed_events_first_then_live_ones_without_repeats() -> None:
    live = Broadcaster()
    first, second, third = script_events()[:3]
    subscription = live.subscribe()
    messages = sse_messages(subscription, [first, second], live)

    assert (await anext(messages)).startswith("retry: ")
    live.publish(second)  # stored while the client was catching up: already sent, not sent twice
    live.publish(third)
    sent = [await anext(messages) for _ in range(3)]

    assert [message.split("\n")[0] for message in sent] == [f"id: {e.event_id}" for e in (first, second, third)]
    live.close()
    with pytest.raises(StopAsyncIteration):
        await anext(messages)
    assert subscription not in live.subscriptions
