"""Reaching a NATS server: waiting for it, and telling a refusal that asking again would not change from an outage."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable

import nats
import structlog
from nats.aio.client import Client as NATS

from shared.streams import BusSetupError

log = structlog.get_logger("bus")


class Complaints:
    """What goes wrong as nats-py reports it: a login or TLS refused (asking again gets the same answer), a request
    refused for lack of permission (the server then never answers it)."""

    def __init__(self) -> None:
        self.last = ""
        self.final_reason = ""  # the first refusal for good: what comes after it (a reset connection) is its echo
        self.refused, self.final = asyncio.Event(), asyncio.Event()

    async def hear(self, exc: Exception) -> None:
        """nats-py's error callback."""
        self.last = str(exc)
        if "permissions violation" in self.last.lower():
            self.refused.set()
        if not self.final.is_set() and (isinstance(exc, ssl.SSLError) or "authorization violation" in self.last.lower()):
            self.final_reason = self.last
            self.final.set()
        log.warning("nats error", error=self.last)

    @property
    def login_refused(self) -> bool:
        """True when the server refused the credentials, or their absence."""
        return "authorization violation" in self.final_reason.lower()


async def reach(
    url: str, producer: str, options: dict, wait: float, complaints: Complaints, closing: asyncio.Event,
) -> NATS | None:
    """The connection, once the server answers; None when the login or TLS failed for good."""

    async def on_disconnect() -> None:
        if not closing.is_set():
            log.warning("nats disconnected")

    async def on_reconnect() -> None:
        log.info("nats reconnected")

    deadline = asyncio.get_running_loop().time() + wait
    while True:  # the server may still be starting (a container beside this one)
        nc = NATS()
        attempt = asyncio.ensure_future(nc.connect(
            url, name=producer, max_reconnect_attempts=1, connect_timeout=5, reconnect_time_wait=0.5,
            error_cb=complaints.hear, disconnected_cb=on_disconnect, reconnected_cb=on_reconnect, **options,
        ))
        final = asyncio.create_task(complaints.final.wait())  # nats-py may keep waiting after a failed TLS handshake
        await asyncio.wait({attempt, final}, return_when=asyncio.FIRST_COMPLETED)
        final.cancel()
        if complaints.final.is_set():
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await attempt
            with contextlib.suppress(Exception):
                await nc.close()
            return None
        try:
            attempt.result()
            # once connected, ride out any outage: keep reconnecting forever
            nc.options.update(allow_reconnect=True, max_reconnect_attempts=-1)
            return nc
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise ConnectionError(f"cannot reach NATS at {url}: {exc}") from None
            log.warning("waiting for NATS", url=url, error=str(exc))
            await asyncio.sleep(1.0)


async def unless_refused(work: Awaitable[None], complaints: Complaints) -> None:
    """Await work, unless the server refuses one of its requests for lack of permission (it then never answers)."""
    task, refused = asyncio.ensure_future(work), asyncio.create_task(complaints.refused.wait())
    try:
        await asyncio.wait({task, refused}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        refused.cancel()
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise BusSetupError(f"these credentials may not set up the streams ({complaints.last}): use an admin credential")
