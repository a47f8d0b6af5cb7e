"""The bus across a NATS outage: the server stops (cleanly or killed) and comes back on the same port and store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from shared.bus import STREAM, Bus, connect, consume
from shared.embedded import EmbeddedNats
from shared.events import CommitStale, Event, VerdictDecided

HEAD = "a" * 40
# Far below the consumer's ack wait: a consumer held back until the ack wait runs out misses it.
WITHIN = 10.0
ACK_WAIT = 30.0  # the trainer's commit consumer


def verdict(number: int) -> VerdictDecided:
    return VerdictDecided(campaign="c1", experiment_id=f"c1-{number:04d}", producer="test/1",
                          commit=f"{number:040d}", status="keep", head=HEAD)


async def eventually(condition: Callable[[], bool], within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNats]:
    """A nats-server whose port and store stay the same across restarts."""
    nats_server = EmbeddedNats(tmp_path / "nats")
    nats_server.start()
    yield nats_server
    nats_server.stop()


@pytest.fixture
async def buses(server: EmbeddedNats) -> AsyncIterator[tuple[Bus, Bus]]:
    """A consumer's connection and a publisher's, both riding out outages."""
    consumer, publisher = await connect(server.url, "test/consumer"), await connect(server.url, "test/publisher")
    yield consumer, publisher
    await consumer.close()
    await publisher.close()


@contextlib.asynccontextmanager
async def consuming(bus: Bus, handler: Callable[[Event], object]) -> AsyncIterator[None]:
    stop = asyncio.Event()

    async def handle(event: Event) -> None:
        handler(event)

    task = asyncio.create_task(consume(bus, "outage", {VerdictDecided: handle}, stop, ack_wait=ACK_WAIT))
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def publish_after_restart(bus: Bus, numbers: range) -> None:
    """Publish once the publisher is back; a publish that fails while it reconnects is tried again."""
    for number in numbers:
        for attempt in range(50):
            try:
                await bus.publish(verdict(number))
                break
            except Exception:
                if attempt == 49:
                    raise
                await asyncio.sleep(0.2)


@pytest.mark.parametrize("crash", [False, True], ids=["stopped", "killed"])
async def test_events_published_after_the_server_returns_are_handled(server: EmbeddedNats, buses, crash: bool):
    consumer, publisher = buses
    seen: list[str] = []
    async with consuming(consumer, lambda event: seen.append(event.experiment_id)):
        await publisher.publish(verdict(1))
        await eventually(lambda: seen == ["c1-0001"])
        await consumer.nc.flush()  # the acknowledgement has reached the server, not necessarily its disk
        if crash:
            server.kill()
        else:
            server.stop()
        await asyncio.sleep(2.0)
        server.start()
        await publish_after_restart(publisher, range(2, 5))
        await eventually(lambda: {"c1-0002", "c1-0003", "c1-0004"} <= set(seen))
    assert seen[-3:] == ["c1-0002", "c1-0003", "c1-0004"]


async def test_a_handler_running_through_the_outage_is_acknowledged_once_the_server_returns(server: EmbeddedNats, buses):
    consumer, publisher = buses
    began, release, seen = asyncio.Event(), asyncio.Event(), []

    async def slow(event: Event) -> None:
        began.set()
        await release.wait()
        seen.append(event.experiment_id)

    stop = asyncio.Event()
    task = asyncio.create_task(consume(consumer, "through", {VerdictDecided: slow}, stop, ack_wait=ACK_WAIT))
    try:
        await publisher.publish(verdict(1))
        await asyncio.wait_for(began.wait(), WITHIN)
        server.kill()
        await asyncio.sleep(2.0)
        server.start()
        release.set()
        await publish_after_restart(publisher, range(2, 4))
        await eventually(lambda: {"c1-0002", "c1-0003"} <= set(seen))
    finally:
        release.set()
        stop.set()
        await asyncio.wait_for(task, 10)
    assert seen.count("c1-0002") == seen.count("c1-0003") == 1


async def test_a_publish_lost_with_the_server_is_made_again_once_it_returns(server: EmbeddedNats, buses):
    consumer, publisher = buses
    go, seen = asyncio.Event(), []
    derived = CommitStale(event_id="stale-from-c1-0001", campaign="c1", experiment_id="c1-0001", producer="test/1",
                          commit=HEAD, head=HEAD)

    async def derive(event: Event) -> None:
        seen.append(event.experiment_id)
        if event.experiment_id == "c1-0001":
            await go.wait()
            await consumer.publish(derived)

    stop = asyncio.Event()
    task = asyncio.create_task(consume(consumer, "derive", {VerdictDecided: derive}, stop, ack_wait=ACK_WAIT))
    try:
        await publisher.publish(verdict(1))
        await eventually(lambda: seen == ["c1-0001"])
        os.kill(server.process.pid, signal.SIGSTOP)  # the handler's publish reaches a server that never answers it
        go.set()
        await asyncio.sleep(0.5)
        server.kill()
        await asyncio.sleep(2.0)
        server.start()
        await publish_after_restart(publisher, range(2, 3))
        await eventually(lambda: "c1-0002" in seen, within=30.0)
        info = await publisher.js.stream_info(STREAM, subjects_filter=CommitStale.subject)
    finally:
        go.set()
        stop.set()
        await asyncio.wait_for(task, 10)
    assert seen.count("c1-0001") >= 2  # handled again after its publish failed
    assert info.state.subjects == {CommitStale.subject: 1}
