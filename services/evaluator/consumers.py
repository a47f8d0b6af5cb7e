"""The evaluator's durable consumer: `up` waits for it to drain, the service consumes with it."""

from shared.campaigns import durable_for

RUNS = "evaluator"


def runs(campaign: str | None) -> str:
    """Finished runs: one queue per campaign, or one for all campaigns when campaign is None."""
    return durable_for(RUNS, campaign)


def durables(campaign: str) -> set[str]:
    """The evaluator's consumers that serve a campaign."""
    return {runs(campaign)}
