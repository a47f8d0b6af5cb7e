"""The evaluator's durable consumer: `up` waits for it to drain, the service consumes with it."""

RUNS = "evaluator"


def durables(campaign: str) -> set[str]:
    """The evaluator's consumers that serve a campaign (one queue for all campaigns)."""
    return {RUNS}
