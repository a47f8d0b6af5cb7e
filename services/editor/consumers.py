"""The editor's durable consumer: `up` waits for it to drain, the service consumes with it."""

from shared.campaigns import durable_for

PROPOSALS = "editor"


def proposals(campaign: str | None) -> str:
    """Proposals and stale commits: one queue per campaign, or one for all campaigns when campaign is None."""
    return durable_for(PROPOSALS, campaign)


def durables(campaign: str) -> set[str]:
    """The editor's consumers that serve a campaign."""
    return {proposals(campaign)}
