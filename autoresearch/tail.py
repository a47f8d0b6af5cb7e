"""The one tail of events on NATS: a plain subscription to every event subject, valid events of one campaign to a callback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import nats
from nats.aio.msg import Msg

from shared.events import EVENT_TYPES, Event, parse_event


class TailError(Exception):
    """NATS could not be reached; the message names the URL."""


class EventTail:
    """Hands each valid event of the campaign (every campaign when None) to on_event as it is published."""

    def __init__(
        self, url: str, campaign: str | None, on_event: Callable[[Event], None],
        on_notice: Callable[[str], None] | None = None, access: dict | None = None,
    ) -> None:
        self.url, self.campaign, self.on_event = url, campaign, on_event
        self.access = access or {}  # nats.connect's credential and TLS options (shared/credentials.py)
        self.on_notice = on_notice or (lambda text: None)
        self.nc: nats.NATS | None = None
        self._closing = False

    async def start(self, wait: float = 5.0) -> None:
        """Connect (a server that is not there within wait seconds is a TailError) and subscribe."""
        problems: list[Exception] = []

        async def remember(exc: Exception) -> None:  # without an error_cb nats-py prints a traceback per failed attempt
            if problems and "authorization violation" in str(problems[-1]).lower():
                return  # the reason; the reset connection that follows a refused login is only its echo
            problems[:] = [exc]  # the last one only: during an outage one comes every second

        try:
            self.nc = await asyncio.wait_for(nats.connect(
                self.url, max_reconnect_attempts=-1, reconnect_time_wait=1, error_cb=remember,
                disconnected_cb=self._disconnected, reconnected_cb=self._reconnected, **self.access,
            ), wait)
        except Exception as exc:
            reason = problems[-1] if problems else exc
            raise TailError(f"cannot reach NATS at {self.url} ({reason or reason.__class__.__name__})") from None
        for subject in EVENT_TYPES:
            await self.nc.subscribe(subject, cb=self._on_message)
        await self.nc.flush()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = parse_event(msg.data, msg.subject)
        except ValueError:  # pydantic's ValidationError included: a malformed event is not shown
            return
        if self.campaign is None or event.campaign == self.campaign:
            self.on_event(event)

    async def _disconnected(self) -> None:
        if not self._closing:  # closing disconnects too
            self.on_notice("disconnected from NATS, reconnecting…")

    async def _reconnected(self) -> None:
        self.on_notice("reconnected to NATS")

    async def close(self) -> None:
        """Unsubscribe and disconnect."""
        self._closing = True
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
