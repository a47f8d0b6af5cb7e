"""Running a service process: logging, the bus connection, and a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

import structlog

from shared.bus import Bus, BusSetupError, connect
from shared.credentials import TlsFiles
from shared.logging import configure_logging
from shared.processes import keep_secrets_private
from shared.settings import ServiceSettings

Serve = Callable[[Bus, asyncio.Event], Awaitable[None]]
SETUP_EXIT = 2  # as for a refused configuration: `up` does not restart a service that exits with it


async def serve_until_stopped(name: str, settings: ServiceSettings, serve: Serve) -> None:
    """Connect, run serve until a signal sets stop, then drain the connection."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log = structlog.get_logger(name)
    tls = TlsFiles(settings.nats_tls_ca, settings.nats_tls_cert, settings.nats_tls_key)
    bus = await connect(settings.nats_url, f"{name}/{settings.instance}", settings.nats_creds, tls=tls)
    log.info("service started", instance=settings.instance)
    try:
        await serve(bus, stop)
    finally:
        await bus.close()
        log.info("service stopped")


def run_service(name: str, settings: ServiceSettings, serve: Serve, level: str = "INFO") -> None:
    """Entry point of every service process; a bus it cannot use (a stream missing, credentials refused) stops it."""
    keep_secrets_private()  # a training run of the same user cannot read this process's keys from /proc
    configure_logging(name, level)
    try:
        asyncio.run(serve_until_stopped(name, settings, serve))
    except BusSetupError as exc:  # restarting would meet the same refusal
        structlog.get_logger(name).error("cannot start", reason=str(exc))
        raise SystemExit(SETUP_EXIT) from None
