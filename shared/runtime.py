"""Running a service process: logging, the bus connection, and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog

from shared.bus import Bus, connect
from shared.logging import configure_logging
from shared.settings import ServiceSettings

Serve = Callable[[Bus, asyncio.Event], Awaitable[None]]


async def serve_until_stopped(name: str, settings: ServiceSettings, serve: Serve) -> None:
    """Connect, run serve until a signal sets stop, then drain the connection."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log = structlog.get_logger(name)
    bus = await connect(settings.nats_url, f"{name}/{settings.instance}", settings.nats_creds)
    log.info("service started", instance=settings.instance)
    try:
        await serve(bus, stop)
    finally:
        await bus.close()
        log.info("service stopped")


def run_service(name: str, settings: ServiceSettings, serve: Serve, level: str = "INFO") -> None:
    """Entry point of every service process."""
    configure_logging(name, level)
    asyncio.run(serve_until_stopped(name, settings, serve))
