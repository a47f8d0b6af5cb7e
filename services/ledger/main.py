"""Ledger bootstrap: the store, results.tsv, the HTTP read API and dashboard, the live stream."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from typing import TYPE_CHECKING

import structlog
from pydantic import Field

from services.ledger.broadcast import Broadcaster
from services.ledger import consumers
from services.ledger.exits import API_EXIT
from services.ledger.handlers import LedgerContext, on_event
from services.ledger.store import EventStore
from shared.bus import Bus, consume, stream_of
from shared.campaigns import ServedCampaign, serving
from shared.events import EVENT_CLASSES, RunProgress
from shared.settings import ServiceSettings

if TYPE_CHECKING:
    import uvicorn

log = structlog.get_logger("ledger")


class LedgerSettings(ServiceSettings):
    """Where the ledger keeps its store and results, and where it serves its API."""

    tag: ServedCampaign = None  # the one campaign recorded (and served by the API); its results.tsv may go to results_path
    results_path: Path | None = Field(default=None, description="results.tsv for the campaign named by tag.")
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8750, ge=0, le=65535, description="0 turns the HTTP API off.")


async def _serve_http(server: uvicorn.Server, settings: LedgerSettings, stop: asyncio.Event, failed: asyncio.Event) -> None:
    """Serve the API until stop; an API that cannot bind or ends early stops the ledger too (it is restarted, not silent)."""
    try:
        await server.serve()
    except SystemExit:  # uvicorn exits the process when it cannot bind
        log.error("read API could not start; is the port taken?", host=settings.http_host, port=settings.http_port)
    if not stop.is_set():
        if server.started:
            log.error("read API stopped serving", host=settings.http_host, port=settings.http_port)
        failed.set()
        stop.set()


async def serve(bus: Bus, stop: asyncio.Event, settings: LedgerSettings) -> None:
    """Consume every event (of its campaign, when tagged) until stopped, serving the read API alongside.

    Exits with API_EXIT when the read API asked for could not start or stopped serving.
    """
    folder = settings.state_dir / "ledger"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)  # the ledger's own folder: its store holds every proposal, diff and log
    store = EventStore(folder / "events.sqlite3")
    overrides = {settings.tag: settings.results_path} if settings.tag and settings.results_path else {}
    ctx = LedgerContext(store, folder / "results", overrides, Broadcaster())
    # the record and the step lines live in two streams, so the ledger reads them with two consumers
    record = [kind for kind in EVENT_CLASSES if kind is not RunProgress]
    owned = {consumers.events(settings.tag): record, consumers.progress(settings.tag): [RunProgress]}
    if store.is_empty():  # a new store rebuilds from the start of the streams: only this ledger's own consumers restart
        for durable, kinds in owned.items():
            with contextlib.suppress(Exception):
                await bus.js.delete_consumer(stream_of(kinds), durable)
    server, api_failed = None, asyncio.Event()
    record_event = serving(settings.tag, {kind: (lambda e: on_event(e, ctx)) for kind in EVENT_CLASSES})
    tasks = [
        asyncio.create_task(consume(bus, durable, {kind: record_event[kind] for kind in kinds}, stop))
        for durable, kinds in owned.items()
    ]
    if settings.http_port:
        import uvicorn  # the read API's web stack is loaded only by a ledger that serves it

        from services.ledger.api import create_app
        from services.ledger.projection import Projection

        projection = Projection(store)
        # the views are folded once from what the store holds now, beside the consumer, not in the first request
        tasks.append(asyncio.create_task(asyncio.to_thread(projection.warm)))
        config = uvicorn.Config(
            create_app(store, ctx.broadcaster, projection), host=settings.http_host, port=settings.http_port,
            log_level="warning", timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        # the service's own SIGTERM handling sets stop; uvicorn must not take the signals over
        server.capture_signals = contextlib.nullcontext
        tasks.append(asyncio.create_task(_serve_http(server, settings, stop, api_failed)))
        log.info("read API listening", url=f"http://{settings.http_host}:{settings.http_port}")
    await stop.wait()
    ctx.broadcaster.close()  # open event streams would otherwise hold the HTTP server's shutdown
    if server:
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    store.close()
    if api_failed.is_set():
        raise SystemExit(API_EXIT)
