"""Reading the event streams back: how a service rebuilds its state, and then keeps up with it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats
import structlog
from nats.js import api as js_api
from pydantic import ValidationError

from shared.bus import Bus, stream_of
from shared.events import Event, parse_event

log = structlog.get_logger("history")
BATCH = 256


class StreamCursor:
    """Events of some types from one stream, each call returning only what came since the last one.

    The first call replays the stream; later calls cost a few round trips however long the campaign is.
    """

    def __init__(self, bus: Bus, kinds: Sequence[type[Event]], campaign: str | None = None) -> None:
        self.bus, self.campaign = bus, campaign
        self.stream = stream_of(kinds)
        self.subjects = [kind.subject for kind in kinds]
        self.next_sequence = 1

    async def fetch_new(self) -> list[Event]:
        """Every valid event published since the previous call (all of them on the first), oldest first."""
        info = await self.bus.js.stream_info(self.stream)
        if info.state.last_seq < self.next_sequence:
            return []
        config = js_api.ConsumerConfig(
            ack_policy=js_api.AckPolicy.NONE, filter_subjects=self.subjects, inactive_threshold=60.0, max_ack_pending=-1,
            deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(self.next_sequence, info.state.first_seq),
        )
        consumer = await self.bus.js.add_consumer(self.stream, config)
        sub = await self.bus.js.pull_subscribe_bind(consumer=consumer.name, stream=self.stream)
        events: list[Event] = []
        try:
            pending = consumer.num_pending
            while pending > 0:
                try:
                    msgs = await sub.fetch(min(pending, BATCH), timeout=2.0)
                except (TimeoutError, asyncio.TimeoutError, nats.errors.TimeoutError):
                    break
                for msg in msgs:
                    pending = msg.metadata.num_pending
                    self.next_sequence = msg.metadata.sequence.stream + 1
                    if (event := self._parse(msg.data, msg.subject)) is not None:
                        events.append(event)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self.bus.js.delete_consumer(self.stream, consumer.name)
        return events

    def _parse(self, data: bytes, subject: str) -> Event | None:
        try:
            event = parse_event(data, subject)
        except (ValidationError, ValueError):
            return None  # set aside by the consumers that handle it; a fold skips it
        return event if self.campaign is None or event.campaign == self.campaign else None


async def replay(bus: Bus, kinds: Sequence[type[Event]], campaign: str | None = None) -> list[Event]:
    """Every valid event of these types (of one campaign, if given), oldest first."""
    return await StreamCursor(bus, kinds, campaign).fetch_new()
