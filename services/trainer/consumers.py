"""The trainer's durable consumers, one set per campaign so trainers of different campaigns never share work."""

from shared.campaigns import campaign_durable


def control(campaign: str) -> str:
    """Verdicts and rejections for the campaign's trainer."""
    return campaign_durable("trainer-control", campaign)


def commits(campaign: str) -> str:
    """Commits to run for the campaign's trainer."""
    return campaign_durable("trainer-commits", campaign)


def durables(campaign: str) -> set[str]:
    """The trainer's consumers that serve a campaign."""
    return {control(campaign), commits(campaign)}
