"""The ledger's durable consumers: `up` waits for them to drain, the service consumes with them."""

EVENTS = "ledger"
PROGRESS = "ledger-progress"


def durables(campaign: str) -> set[str]:
    """The ledger's consumers that serve a campaign (every event of every campaign)."""
    return {EVENTS, PROGRESS}
