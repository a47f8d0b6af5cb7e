"""The live event stream: every new event as a server-sent event, as the ledger stores it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from services.ledger.api.deps import Live, Store
from services.ledger.broadcast import Subscription
from shared.events import CAMPAIGN_PATTERN, Event

router = APIRouter(prefix="/api/events", tags=["events"])
KEEPALIVE_SECONDS = 15.0
RETRY_MS = 2000
REPLAY_LIMIT = 5000


def sse_message(event: Event) -> str:
    """One event as an SSE message: id, event type, the event's JSON on one data line."""
    return f"id: {event.event_id}\nevent: {event.type}\ndata: {event.model_dump_json()}\n\n"


async def sse_messages(subscription: Subscription, missed: list[Event], live: Live) -> AsyncIterator[str]:
    """What the client missed since its Last-Event-ID, then new events until the ledger stops."""
    try:
        # the first bytes tell the client it is subscribed: anything stored from now on reaches it
        yield f"retry: {RETRY_MS}\n: connected\n\n"
        sent = set()
        for event in missed:
            sent.add(event.event_id)
            yield sse_message(event)
        while True:
            try:
                event = await subscription.get(KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event is None:
                return
            if event.event_id not in sent:
                yield sse_message(event)
    finally:
        live.unsubscribe(subscription)


@router.get("/stream", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def event_stream(
    store: Store,
    live: Live,
    campaign: Annotated[
        str | None, Query(pattern=CAMPAIGN_PATTERN, description="Only this campaign's events; it need not exist yet."),
    ] = None,
    last_event_id: Annotated[str | None, Header(description="Resume after this event (sent by EventSource on reconnect).")] = None,
) -> StreamingResponse:
    """Every event stored from now on, as text/event-stream."""
    subscription = live.subscribe(campaign)  # before reading the store, so nothing falls between the two
    missed: list[Event] = []
    if last_event_id:
        seq = await run_in_threadpool(store.seq_of, last_event_id)
        if seq is not None:
            missed = await run_in_threadpool(store.events, campaign, None, seq, REPLAY_LIMIT)
    return StreamingResponse(
        sse_messages(subscription, missed, live), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
