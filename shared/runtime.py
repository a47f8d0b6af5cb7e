"""Running a service process: logging, the bus connection, a heartbeat file while connected, a clean stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from shared.bus import Bus, BusSetupError, connect
from shared.credentials import TlsFiles
from shared.logging import configure_logging
from shared.processes import keep_secrets_private
from shared.settings import ServiceSettings

Serve = Callable[[Bus, asyncio.Event], Awaitable[None]]
SETUP_EXIT = 2  # as for a refused configuration: `up` does not restart a service that exits with it
HEALTH_FOLDER = "health"
MTIME_LAG = 0.1  # file times come from the kernel's coarse clock, which runs up to a tick behind time.time()
HEARTBEAT_EVERY = 5.0  # seconds between touches; `autoresearch service-health` allows several to be missed


def heartbeat_path(state_dir: Path, name: str, instance: str) -> Path:
    """The file a running service touches while it holds its bus connection: one per service instance."""
    return state_dir / HEALTH_FOLDER / f"{name}-{re.sub(r'[^A-Za-z0-9._-]', '_', instance)}"


def heartbeats(state_dir: Path, name: str) -> list[Path]:
    """The heartbeat files of every instance of a service that keeps its state in state_dir."""
    return sorted((state_dir / HEALTH_FOLDER).glob(f"{name}-*"))


def beating_since(state_dir: Path, name: str, since: float) -> bool:
    """True when an instance of the service has touched its heartbeat file at or after `since` (time.time())."""
    for path in heartbeats(state_dir, name):
        with contextlib.suppress(OSError):  # a file removed as it was read belonged to an instance that stopped
            if path.stat().st_mtime >= since - MTIME_LAG:
                return True
    return False


def _touch(path: Path) -> None:
    # the state folder may be made here first: private, as the trainer keeps it from its runs
    path.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.touch()


async def keep_heartbeat(path: Path, connected: Callable[[], bool], every: float = HEARTBEAT_EVERY) -> None:
    """Touch path every `every` seconds while connected() holds, until cancelled; a failed touch is logged once."""
    log = structlog.get_logger("health")
    failing = False
    while True:
        if connected():
            try:
                await asyncio.to_thread(_touch, path)  # off the loop: a slow disk never holds up a handler
                failing = False
            except OSError as exc:
                if not failing:
                    log.warning("heartbeat file cannot be written", path=str(path), reason=str(exc))
                failing = True
        await asyncio.sleep(every)


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
    beat = heartbeat_path(settings.state_dir, name, settings.instance)
    heartbeat = asyncio.create_task(keep_heartbeat(beat, lambda: bus.nc.is_connected, HEARTBEAT_EVERY))
    try:
        await serve(bus, stop)
    finally:
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
        with contextlib.suppress(OSError):
            beat.unlink(missing_ok=True)  # a stopped service is not healthy, however recent its last beat
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
