"""Which campaigns a service serves: the one it was started for, or every campaign (one shared deployment)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.bus import Handler, Handlers
from shared.events import CAMPAIGN_PATTERN, Event

# A service's `tag` setting: the one campaign it serves (`up` starts every service with it), or every campaign when unset.
ServedCampaign = Annotated[str | None, Field(pattern=CAMPAIGN_PATTERN, description="The one campaign served; every campaign when unset.")]


def campaign_durable(prefix: str, campaign: str) -> str:
    """A durable consumer name for one campaign, made of the characters NATS allows."""
    return f"{prefix}-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in campaign)


def durable_for(prefix: str, campaign: str | None) -> str:
    """A service's durable consumer: its own per campaign when it serves one, the shared prefix when it serves all."""
    return prefix if campaign is None else campaign_durable(prefix, campaign)


def serving(campaign: str | None, handlers: Handlers) -> Handlers:
    """The handlers, with another campaign's events acknowledged and skipped when the service serves one campaign.

    A per-campaign consumer still receives every campaign's events (subjects do not name the campaign),
    so this filter is what keeps a campaign's services out of another campaign's work.
    """
    if campaign is None:
        return handlers

    def only_ours(handler: Handler) -> Handler:
        async def handle(event: Event) -> None:
            if event.campaign == campaign:
                await handler(event)
        return handle

    return {kind: only_ours(handler) for kind, handler in handlers.items()}
