"""The ledger's durable consumers: `up` waits for them to drain, the service consumes with them."""

from shared.campaigns import durable_for

EVENTS = "ledger"
PROGRESS = "ledger-progress"


def events(campaign: str | None) -> str:
    """The record (every stream but the step lines): per campaign, or for all campaigns when campaign is None."""
    return durable_for(EVENTS, campaign)


def progress(campaign: str | None) -> str:
    """The step lines: per campaign, or for all campaigns when campaign is None."""
    return durable_for(PROGRESS, campaign)


def durables(campaign: str) -> set[str]:
    """The ledger's consumers that serve a campaign."""
    return {events(campaign), progress(campaign)}
