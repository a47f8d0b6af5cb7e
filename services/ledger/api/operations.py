"""Routes for operators: liveness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from starlette.concurrency import run_in_threadpool

from services.ledger.api.deps import Live, Store, Views
from services.ledger.metrics import CONTENT_TYPE, render_metrics

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The ledger is up."""
    return {"status": "ok"}


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(store: Store, views: Views, live: Live) -> PlainTextResponse:
    """Experiments by status, best val_bpb, run durations and trainer idle time, for Prometheus."""
    text = await run_in_threadpool(render_metrics, store, views, len(live.subscriptions))
    return PlainTextResponse(text, media_type=CONTENT_TYPE)
