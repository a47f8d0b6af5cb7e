"""The editor's durable consumer: `up` waits for it to drain, the service consumes with it."""

PROPOSALS = "editor"


def durables(campaign: str) -> set[str]:
    """The editor's consumers that serve a campaign (one queue for all campaigns)."""
    return {PROPOSALS}
