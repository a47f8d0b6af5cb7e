"""A consumer stops the moment stop is set: a waiting fetch is cancelled, nothing is begun after the stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from shared.bus import consume
from shared.events import VerdictDecided
from tests.message_fakes import FakeMetadata, FakeMsg

HEAD = "a" * 40


@dataclass
class FakeSequence:
    stream: int = 1


@dataclass
class FakeStreamMetadata(FakeMetadata):
    """With the stream sequence, which the bus reads of a message it settled."""

    sequence: FakeSequence = field(default_factory=FakeSequence)


def verdict_message() -> FakeMsg:
    event = VerdictDecided(campaign="c1", experiment_id="c1-0001", producer="test/1", commit="1" * 40,
                           status="keep", head=HEAD)
    return FakeMsg(event.subject, event.model_dump_json().encode(), FakeStreamMetadata())


@dataclass
class FakePullSubscription:
    """A pull subscription whose fetch waits for `answer` to be called, as a real one waits for the server."""

    on_fetch: object = None  # called when a fetch begins: the test's moment to act
    fetches: int = 0
    cancelled: int = 0
    unsubscribed: bool = False
    pending: asyncio.Future | None = None

    async def fetch(self, batch: int = 1, timeout: float | None = None) -> list[FakeMsg]:
        self.fetches += 1
        self.pending = asyncio.get_running_loop().create_future()
        if self.on_fetch is not None:
            self.on_fetch(self)
        try:
            return await self.pending
        except asyncio.CancelledError:
            self.cancelled += 1
            raise

    async def unsubscribe(self) -> None:
        self.unsubscribed = True


@dataclass
class FakeJetStream:
    sub: FakePullSubscription

    async def add_consumer(self, stream: str, config: object) -> None:
        pass

    async def pull_subscribe_bind(self, durable: str, stream: str) -> FakePullSubscription:
        return self.sub


@dataclass
class FakeConnection:
    stats: dict = field(default_factory=lambda: {"reconnects": 0})


@dataclass
class FakeBus:
    js: FakeJetStream
    nc: FakeConnection = field(default_factory=FakeConnection)


async def test_stop_cancels_a_fetch_that_is_still_waiting_and_consume_returns() -> None:
    stop, handled = asyncio.Event(), []
    sub = FakePullSubscription(on_fetch=lambda sub: stop.set())  # stop comes while the fetch waits, and no message

    async def handler(event: VerdictDecided) -> None:
        handled.append(event)

    # the fetch never answers by itself: only cancelling it lets consume return
    await asyncio.wait_for(consume(FakeBus(FakeJetStream(sub)), "d", {VerdictDecided: handler}, stop), 10)
    assert (sub.fetches, sub.cancelled) == (1, 1)
    assert sub.unsubscribed and handled == []


async def test_a_message_fetched_as_stop_is_set_is_handed_back_not_begun() -> None:
    stop, began = asyncio.Event(), []
    message = verdict_message()

    def answer_and_stop(sub: FakePullSubscription) -> None:
        sub.pending.set_result([message])
        stop.set()

    async def handler(event: VerdictDecided) -> None:
        began.append(event)

    sub = FakePullSubscription(on_fetch=answer_and_stop)
    await asyncio.wait_for(consume(FakeBus(FakeJetStream(sub)), "d", {VerdictDecided: handler}, stop), 10)
    assert began == []
    assert message.settled == ["nak"]  # JetStream delivers it again at once, to this consumer's next run


async def test_a_message_fetched_before_stop_is_handled_and_acknowledged() -> None:
    stop, handled = asyncio.Event(), []
    message = verdict_message()

    def answer_once(sub: FakePullSubscription) -> None:
        if sub.fetches == 1:
            sub.pending.set_result([message])

    async def handler(event: VerdictDecided) -> None:
        handled.append(event.experiment_id)
        stop.set()  # the stop comes while the handler runs to its end: the event is still settled

    sub = FakePullSubscription(on_fetch=answer_once)
    await asyncio.wait_for(consume(FakeBus(FakeJetStream(sub)), "d", {VerdictDecided: handler}, stop), 10)
    assert handled == ["c1-0001"]
    assert message.settled == ["ack"]
