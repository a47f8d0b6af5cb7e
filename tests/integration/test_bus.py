"""The bus against a real nats-server: delivery, deduplication, bad messages, retries, slow and stopped handlers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import git
import pytest

from shared.bus import STREAM, Bus, consume
from shared.failures import PermanentError, RetryLater, redelivery_delay
from shared.events import CommitStale, Event, VerdictDecided
from shared.gitobjects import ensure_commit, open_mirror
from tests.conftest import make_workspace

HEAD = "a" * 40


def verdict(number: int = 1, event_id: str | None = None) -> VerdictDecided:
    ids = {"event_id": event_id} if event_id else {}
    return VerdictDecided(**ids, campaign="c1", experiment_id=f"c1-{number:04d}", producer="test/1",
                          commit=f"{number:040d}", status="keep", head=HEAD)


async def eventually(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def consuming(bus: Bus, durable: str, handler: Callable[[Event], Awaitable[None]], **options):
    """Run consume as a task for the duration of the block, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(consume(bus, durable, {VerdictDecided: handler}, stop, **options))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


async def test_published_event_is_delivered_to_its_handler_validated(bus: Bus):
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)

    sent = verdict()
    await bus.publish(sent)
    async with consuming(bus, "delivery", handler):
        await eventually(lambda: len(seen) == 1)
    assert isinstance(seen[0], VerdictDecided)
    assert seen[0] == sent


async def test_same_event_id_published_twice_is_stored_once(bus: Bus):
    event = verdict(event_id="verdict-c1-0001")
    await bus.publish(event)
    await bus.publish(event)
    await bus.publish(verdict(2))
    info = await bus.js.stream_info(STREAM)
    assert info.state.messages == 2


async def test_malformed_message_is_set_aside_and_the_next_event_is_handled(bus: Bus):
    seen: list[Event] = []

    async def handler(event: Event) -> None:
        seen.append(event)

    await bus.js.publish(VerdictDecided.subject, b"{not json", stream=STREAM)
    wrong_type = CommitStale(campaign="c1", experiment_id="c1-0009", producer="test/1", commit=HEAD, head=HEAD)
    await bus.js.publish(VerdictDecided.subject, wrong_type.model_dump_json().encode(), stream=STREAM)
    await bus.publish(verdict(1))
    async with consuming(bus, "malformed", handler):
        await eventually(lambda: len(seen) == 1)
        await bus.publish(verdict(99))  # handled only after whatever came before it
        await eventually(lambda: len(seen) == 2)
        info = await bus.js.consumer_info(STREAM, "malformed")
    assert [e.experiment_id for e in seen] == ["c1-0001", "c1-0099"]
    assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)
    assert info.ack_floor.stream_seq == 4


async def test_handler_that_raises_is_retried_then_succeeds(bus: Bus):
    calls: list[str] = []

    async def flaky(event: Event) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("transient")

    await bus.publish(verdict())
    async with consuming(bus, "retry", flaky):
        await eventually(lambda: len(calls) == 2)
        await bus.publish(verdict(99))  # handled only after whatever came before it
        await eventually(lambda: len(calls) == 3)
        info = await bus.js.consumer_info(STREAM, "retry")
    assert calls[0] == calls[1] != calls[2]  # the failed event came back once, then the next one
    assert (info.num_ack_pending, info.num_pending) == (0, 0)


async def test_retry_later_hands_the_event_back_and_it_is_handled_again_before_the_next(bus: Bus):
    calls: list[str] = []

    async def not_now(event: Event) -> None:
        calls.append(event.experiment_id)
        if len(calls) == 1:
            raise RetryLater("endpoint down")

    await bus.publish(verdict(1))
    await bus.publish(verdict(2))
    async with consuming(bus, "later", not_now):
        await eventually(lambda: len(calls) == 3, within=15.0)
    # the consumer keeps its order: the event handed back holds its place until it is handled
    assert calls == ["c1-0001", "c1-0001", "c1-0002"]


def test_redelivery_waits_longer_for_not_now_than_for_a_failure_and_is_capped():
    assert redelivery_delay(1, retry_later=True) == 5.0 > redelivery_delay(1, retry_later=False) == 2.0
    assert redelivery_delay(3, retry_later=True) > redelivery_delay(2, retry_later=True)
    assert (redelivery_delay(100, retry_later=True), redelivery_delay(100, retry_later=False)) == (60.0, 30.0)


async def test_permanent_error_sets_the_event_aside_without_retry(bus: Bus):
    calls: list[str] = []

    async def hopeless(event: Event) -> None:
        calls.append(event.experiment_id)
        if event.experiment_id == "c1-0001":
            raise PermanentError("never")

    await bus.publish(verdict(1))
    await bus.publish(verdict(2))
    async with consuming(bus, "permanent", hopeless):
        await eventually(lambda: len(calls) == 2)
        await bus.publish(verdict(99))  # handled only after whatever came before it
        await eventually(lambda: len(calls) == 3)
        info = await bus.js.consumer_info(STREAM, "permanent")
    assert calls == ["c1-0001", "c1-0002", "c1-0099"]
    assert (info.num_ack_pending, info.num_pending) == (0, 0)  # nothing waits for a retry


async def test_handler_slower_than_ack_wait_is_not_redelivered(bus: Bus):
    calls: list[str] = []

    done: list[str] = []

    async def slow(event: Event) -> None:
        calls.append(event.event_id)
        await asyncio.sleep(3.0)  # three times the ack wait
        done.append(event.event_id)

    await bus.publish(verdict())
    # two instances on one durable: a redelivery would go to the idle one
    async with consuming(bus, "slow", slow, ack_wait=1.0), consuming(bus, "slow", slow, ack_wait=1.0):
        await eventually(lambda: len(done) == 1)
        await bus.publish(verdict(99))  # handled only after the slow one is acknowledged
        await eventually(lambda: len(done) == 2)
        info = await bus.js.consumer_info(STREAM, "slow")
    assert len(calls) == 2 and calls[1] != calls[0]
    assert (info.num_redelivered, info.num_ack_pending) == (0, 0)


async def test_stop_cancels_the_handler_and_the_event_is_redelivered_later(bus: Bus):
    began, cancelled, handled = asyncio.Event(), [], []

    async def long(event: Event) -> None:
        began.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(event.event_id)
            raise

    async def quick(event: Event) -> None:
        handled.append(event.event_id)

    sent = verdict()
    await bus.publish(sent)
    stop = asyncio.Event()
    first = asyncio.create_task(consume(bus, "interrupted", {VerdictDecided: long}, stop))
    await asyncio.wait_for(began.wait(), 10)
    stop.set()
    await asyncio.wait_for(first, 5)
    assert cancelled == [sent.event_id]

    async with consuming(bus, "interrupted", quick):
        await eventually(lambda: len(handled) == 1)
    assert handled == [sent.event_id]


async def derived_event_that_cannot_be_built(bus: Bus, tmp_path: Path) -> None:
    VerdictDecided(campaign="c1", experiment_id="c1-0001", producer="test/1", commit=HEAD, status="keep", head="a tree")


async def derived_event_too_large_to_publish(bus: Bus, tmp_path: Path) -> None:
    await bus.nc.publish("poison.echo", b"x" * (bus.nc.max_payload + 1))


async def git_refusing_a_head_that_is_not_a_tree(bus: Bus, tmp_path: Path) -> None:
    repo = git.Repo(make_workspace(tmp_path / "workspace", "print(1)\n"))
    repo.git.checkout("-f", repo.git.rev_parse("HEAD:train.py"))


async def bundle_missing_from_the_object_store(bus: Bus, tmp_path: Path) -> None:
    await ensure_commit(bus, open_mirror(tmp_path / "mirror.git"), "e" * 40, "c1")


@pytest.mark.parametrize("poison", [
    derived_event_that_cannot_be_built, derived_event_too_large_to_publish, git_refusing_a_head_that_is_not_a_tree,
    bundle_missing_from_the_object_store,
])
async def test_deterministic_failure_is_set_aside_at_once_and_the_next_event_follows(bus: Bus, tmp_path: Path, poison):
    calls: list[str] = []

    async def handler(event: Event) -> None:
        calls.append(event.experiment_id)
        if event.experiment_id == "c1-0001":
            await poison(bus, tmp_path)

    await bus.publish(verdict(1))
    await bus.publish(verdict(2))
    async with consuming(bus, "poison", handler):
        await eventually(lambda: len(calls) >= 2)
        await bus.publish(verdict(99))  # handled only after whatever came before it
        await eventually(lambda: len(calls) >= 3)
        info = await bus.js.consumer_info(STREAM, "poison")
    # the poison was handled once, and the next event was the very next thing handled
    assert calls == ["c1-0001", "c1-0002", "c1-0099"]
    assert (info.num_ack_pending, info.num_redelivered, info.num_pending) == (0, 0, 0)
