"""Stopping a consumer against a real nats-server: its waiting fetch ends at once and nothing is lost."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from shared.bus import STREAM, Bus, consume
from shared.events import VerdictDecided

HEAD = "a" * 40


def verdict(number: int) -> VerdictDecided:
    return VerdictDecided(campaign="c1", experiment_id=f"c1-{number:04d}", producer="test/1", commit=f"{number:040d}",
                          status="keep", head=HEAD)


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_an_event_published_just_after_stop_is_left_for_the_next_consumer(bus: Bus) -> None:
    first, later = [], []

    async def record_first(event: VerdictDecided) -> None:
        first.append(event.event_id)

    async def record_later(event: VerdictDecided) -> None:
        later.append(event.event_id)

    stop = asyncio.Event()
    task = asyncio.create_task(consume(bus, "stopping", {VerdictDecided: record_first}, stop, ack_wait=1.0))

    async def fetch_waiting() -> bool:
        try:
            return (await bus.js.consumer_info(STREAM, "stopping")).num_waiting > 0
        except Exception:  # not made yet
            return False

    await eventually(fetch_waiting)
    stop.set()
    sent = verdict(1)
    await bus.publish(sent)  # while the stopped consumer's last pull request may still be open on the server
    await asyncio.wait_for(task, 10)
    assert first == []

    again = asyncio.Event()
    second = asyncio.create_task(consume(bus, "stopping", {VerdictDecided: record_later}, again, ack_wait=1.0))
    async def handled_again() -> bool:
        return bool(later)

    await eventually(handled_again)
    again.set()
    await asyncio.wait_for(second, 10)
    assert later == [sent.event_id]
    info = await bus.js.consumer_info(STREAM, "stopping")
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
