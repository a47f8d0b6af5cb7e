"""The proposers' shared durable consumer of tickets: `up` waits for it to drain, every proposer pulls from it."""

TICKETS = "proposer"


def durables(campaign: str) -> set[str]:
    """The proposers' consumers that serve a campaign (one ticket queue shared by all proposers)."""
    return {TICKETS}
