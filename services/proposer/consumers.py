"""The proposers' shared durable consumer of tickets: `up` waits for it to drain, every proposer pulls from it."""

from shared.campaigns import durable_for

TICKETS = "proposer"


def tickets(campaign: str | None) -> str:
    """Tickets: one queue shared by the proposers of a campaign, or by every proposer when campaign is None."""
    return durable_for(TICKETS, campaign)


def durables(campaign: str) -> set[str]:
    """The proposers' consumers that serve a campaign."""
    return {tickets(campaign)}
