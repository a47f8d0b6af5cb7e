"""What the read API's routes depend on: the store, the live broadcaster, a known campaign and its view."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from services.ledger.broadcast import Broadcaster
from services.ledger.experiments import CampaignView
from services.ledger.store import EventStore


def get_store(request: Request) -> EventStore:
    """The ledger's event store."""
    return request.app.state.store


def get_broadcaster(request: Request) -> Broadcaster:
    """The in-process fan-out of new events."""
    return request.app.state.broadcaster


Store = Annotated[EventStore, Depends(get_store)]
Live = Annotated[Broadcaster, Depends(get_broadcaster)]


def known_campaign(campaign: str, store: Store) -> str:
    """The campaign named in the path, or 404 when the ledger has never seen it."""
    if campaign not in store.campaigns():
        raise HTTPException(status_code=404, detail=f"no campaign named {campaign!r}")
    return campaign


Campaign = Annotated[str, Depends(known_campaign)]


def load_view(campaign: Campaign, store: Store) -> CampaignView:
    """The campaign's events, loaded once for the request."""
    return CampaignView.load(store, campaign)


View = Annotated[CampaignView, Depends(load_view)]
