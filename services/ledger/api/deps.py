"""What the read API's routes depend on: the store, the live broadcaster, and the campaigns' views."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from services.ledger.broadcast import Broadcaster
from services.ledger.experiments import CampaignView
from services.ledger.projection import Projection, UnknownCampaign
from services.ledger.store import EventStore


def get_store(request: Request) -> EventStore:
    """The ledger's event store."""
    return request.app.state.store


def get_broadcaster(request: Request) -> Broadcaster:
    """The in-process fan-out of new events."""
    return request.app.state.broadcaster


def get_projection(request: Request) -> Projection:
    """Every campaign's view, kept up to date with the store."""
    return request.app.state.projection


Store = Annotated[EventStore, Depends(get_store)]
Live = Annotated[Broadcaster, Depends(get_broadcaster)]
Views = Annotated[Projection, Depends(get_projection)]


@contextmanager
def campaign_view(views: Projection, campaign: str) -> Iterator[CampaignView]:
    """The campaign's up-to-date view, held still while the route reads it; 404 when the ledger has never seen it."""
    try:
        with views.reading(campaign) as view:
            assert view is not None  # reading() names a campaign, so it gives its view or raises
            yield view
    except UnknownCampaign:
        raise HTTPException(status_code=404, detail=f"no campaign named {campaign!r}") from None
