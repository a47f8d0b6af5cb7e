"""Ledger bootstrap: the store, results.tsv, the HTTP read API and dashboard, the live stream."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import structlog
import uvicorn
from pydantic import Field

from services.ledger.api import create_app
from services.ledger.broadcast import Broadcaster
from services.ledger.consumers import EVENTS, PROGRESS
from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from shared.bus import Bus, consume, stream_of
from shared.events import CAMPAIGN_PATTERN, EVENT_CLASSES, RunProgress
from shared.settings import ServiceSettings

log = structlog.get_logger("ledger")


class LedgerSettings(ServiceSettings):
    """Where the ledger keeps its store and results, and where it serves its API."""

    tag: str | None = Field(default=None, pattern=CAMPAIGN_PATTERN, description="Campaign whose results go to results_path.")
    results_path: Path | None = Field(default=None, description="results.tsv for the campaign named by tag.")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8750, ge=0, le=65535, description="0 turns the HTTP API off.")


async def _serve_http(server: uvicorn.Server, settings: LedgerSettings) -> None:
    """Serve the API; a port that cannot be bound is logged and the ledger goes on recording without it."""
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits the process when it cannot bind
        log.error("read API could not start; is the port taken?", host=settings.http_host, port=settings.http_port)


async def serve(bus: Bus, stop: asyncio.Event, settings: LedgerSettings) -> None:
    """Consume every event until stopped, serving the read API alongside in the same event loop."""
    store = EventStore(settings.state_dir / "ledger" / "events.sqlite3")
    overrides = {settings.tag: settings.results_path} if settings.tag and settings.results_path else {}
    ctx = LedgerContext(store, settings.state_dir / "ledger" / "results", overrides, Broadcaster())
    # the record and the step lines live in two streams, so the ledger reads them with two consumers
    record = [kind for kind in EVENT_CLASSES if kind is not RunProgress]
    consumers = {EVENTS: record, PROGRESS: [RunProgress]}
    if store.is_empty():  # a new store rebuilds from the start of the streams
        for durable, kinds in consumers.items():
            with contextlib.suppress(Exception):
                await bus.js.delete_consumer(stream_of(kinds), durable)
    server = None
    tasks = [
        asyncio.create_task(consume(bus, durable, {kind: (lambda e: on_event(e, ctx)) for kind in kinds}, stop))
        for durable, kinds in consumers.items()
    ]
    if settings.http_port:
        config = uvicorn.Config(
            create_app(store, ctx.broadcaster), host=settings.http_host, port=settings.http_port, log_level="warning",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        # the service's own SIGTERM handling sets stop; uvicorn must not take the signals over
        server.capture_signals = contextlib.nullcontext
        tasks.append(asyncio.create_task(_serve_http(server, settings)))
        log.info("read API listening", url=f"http://{settings.http_host}:{settings.http_port}")
    await stop.wait()
    ctx.broadcaster.close()  # open event streams would otherwise hold the HTTP server's shutdown
    if server:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    store.close()
