"""Replaying the event stream: how a service rebuilds its state after a restart."""

from __future__ import annotations

import asyncio
import contextlib

import nats
import structlog
from nats.js import api as js_api
from pydantic import ValidationError

from shared.bus import STREAM, Bus
from shared.events import Event, parse_event

log = structlog.get_logger("history")


async def replay(bus: Bus, subjects: list[str], campaign: str | None = None) -> list[Event]:
    """Return every valid event on subjects (of one campaign, if given), oldest first."""
    info = await bus.js.stream_info(STREAM)
    last_seq = info.state.last_seq
    if last_seq == 0:
        return []
    config = js_api.ConsumerConfig(
        ack_policy=js_api.AckPolicy.NONE, deliver_policy=js_api.DeliverPolicy.ALL,
        filter_subjects=subjects, inactive_threshold=60.0, max_ack_pending=-1,
    )
    consumer = await bus.js.add_consumer(STREAM, config)
    sub = await bus.js.pull_subscribe_bind(consumer=consumer.name, stream=STREAM)
    events: list[Event] = []
    try:
        pending = consumer.num_pending
        while pending > 0:
            try:
                msgs = await sub.fetch(min(pending, 256), timeout=2.0)
            except (TimeoutError, asyncio.TimeoutError, nats.errors.TimeoutError):
                break
            for msg in msgs:
                pending = msg.metadata.num_pending
                try:
                    event = parse_event(msg.data, msg.subject)
                except (ValidationError, ValueError):
                    continue
                if campaign is None or event.campaign == campaign:
                    events.append(event)
                if msg.metadata.sequence.stream >= last_seq:
                    pending = 0
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
        with contextlib.suppress(Exception):
            await bus.js.delete_consumer(STREAM, consumer.name)
    return events
