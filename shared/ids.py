"""Experiment and event ids: derived from what they describe, so a redelivered or repeated publish is a duplicate.

JetStream drops a second publish with the same `Nats-Msg-Id` inside its window, and every service folds
events by these ids, so the recipe for each id lives here and nowhere else.
"""

from __future__ import annotations


def experiment_id(campaign: str, sequence: int) -> str:
    """Experiment ids read in order: nov27-0000 is the baseline, nov27-0001 the first ticket."""
    return f"{campaign}-{sequence:04d}"


def campaign_started_id(campaign: str) -> str:
    """One campaign.started per campaign."""
    return f"campaign-{campaign}"


def ticket_id(campaign: str, sequence: int) -> str:
    """One proposal.requested per ticket number."""
    return f"ticket-{campaign}-{sequence}"


def proposal_id(experiment: str) -> str:
    """One proposal.created per experiment: the first proposer to answer its ticket wins."""
    return f"proposal-{experiment}"


def rejection_id(experiment: str, onto: str) -> str:
    """One proposal.rejected per experiment and base it was tried on."""
    return f"rejected-{experiment}-{onto}"


def commit_made_id(experiment: str, commit: str) -> str:
    """One commit.made per experiment and commit."""
    return f"commit-{experiment}-{commit}"


def stale_id(commit: str, head: str) -> str:
    """One commit.stale per commit and the tip it must move to."""
    return f"stale-{commit}-{head}"


def run_finished_id(experiment: str, commit: str, repeat: int = 0) -> str:
    """One run.finished per experiment, commit and repeat (0 is the first run of the commit in the experiment)."""
    return f"run-{experiment}-{commit}" if repeat == 0 else f"run-{experiment}-{commit}-{repeat}"


def confirmation_id(experiment: str, commit: str, repeat: int) -> str:
    """One confirmation.requested per experiment, commit and repeat."""
    return f"confirm-{experiment}-{commit}-{repeat}"


def exhausted_id(experiment: str, base_commit: str) -> str:
    """One proposal.exhausted per ticket and the tip it was asked for."""
    return f"exhausted-{experiment}-{base_commit}"


def verdict_id(experiment: str, commit: str) -> str:
    """One verdict.decided per experiment and commit."""
    return f"verdict-{experiment}-{commit}"


def campaign_finished_id(campaign: str, decided: int) -> str:
    """One campaign.finished per campaign and number of experiments decided."""
    return f"finished-{campaign}-{decided}"


def baseline_failed_id(campaign: str, session: str | None) -> str:
    """One campaign.finished for a failed baseline per campaign and sitting (`up`), so a resumed campaign ends again."""
    return f"finished-{campaign}-baseline-failed" + (f"-{session}" if session else "")


def campaign_limited_id(campaign: str, revision: int) -> str:
    """One campaign.limited per campaign and revision: the first limit set is revision 1, each change the next."""
    return f"limited-{campaign}-{revision}"
