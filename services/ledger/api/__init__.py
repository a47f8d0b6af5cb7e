"""The ledger's read API: a router per resource, mounted on one FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.ledger.api import campaigns, dashboard, events, experiments, operations
from services.ledger.broadcast import Broadcaster
from services.ledger.projection import Projection
from services.ledger.store import EventStore


def create_app(store: EventStore, broadcaster: Broadcaster | None = None, projection: Projection | None = None) -> FastAPI:
    """The ledger's HTTP application over a store, the broadcaster its consumer feeds and the views it reads."""
    app = FastAPI(title="autoresearch ledger", description="Read API of the autoresearch ledger; see docs/api.md.")
    app.state.store = store
    app.state.broadcaster = broadcaster or Broadcaster()
    app.state.projection = projection or Projection(store)
    for module in (operations, campaigns, experiments, events, dashboard):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=dashboard.STATIC), name="static")
    return app
