"""Whether proposers keep up with the trainer, and how many `up` runs with --proposers auto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.proposer.pace import Pace, PaceWatch, advice, proposers_wanted
from shared.edits import Edit
from shared.events import ProposalCreated, ProposalRequested, RunFinished

T0 = datetime(2025, 1, 1, tzinfo=UTC)
BASE = "a" * 40


def test_one_more_proposer_while_proposals_take_longer_than_runs():
    assert proposers_wanted(Pace(think_s=3.0, run_s=1.15, proposers=1), bound=4) == 2
    assert proposers_wanted(Pace(think_s=3.0, run_s=1.15, proposers=2), bound=4) == 3  # 3.0 / 2 > 1.15


def test_no_more_proposers_once_they_keep_up_or_at_the_bound():
    assert proposers_wanted(Pace(think_s=3.0, run_s=1.6, proposers=2), bound=4) == 2  # 3.0 / 2 <= 1.6
    assert proposers_wanted(Pace(think_s=0.2, run_s=60.0, proposers=1), bound=4) == 1
    assert proposers_wanted(Pace(think_s=9.0, run_s=1.0, proposers=2), bound=2) == 2
    assert proposers_wanted(None, bound=4) == 1  # nothing timed yet


def test_advice_names_the_figures_and_the_flags():
    text = advice(Pace(think_s=3.0, run_s=1.2, proposers=1), lookahead=1)
    assert "a proposal takes 3.0 s" in text and "a run 1.2 s" in text
    assert "--proposers 3 --lookahead 2" in text  # three proposers think at once only with three tickets out


def ticket(number: int, at: float) -> ProposalRequested:
    return ProposalRequested(campaign="c1", experiment_id=f"c1-{number:04d}", producer="t/1", base_commit=BASE,
                             sequence=number, occurred_at=T0 + timedelta(seconds=at))


def proposal(number: int, at: float) -> ProposalCreated:
    return ProposalCreated(campaign="c1", experiment_id=f"c1-{number:04d}", producer="t/1", base_commit=BASE,
                           description="d", edits=[Edit(search="A", replace="B")], occurred_at=T0 + timedelta(seconds=at))


def run(number: int, start: float, seconds: float) -> RunFinished:
    return RunFinished(campaign="c1", experiment_id=f"c1-{number:04d}", producer="t/1", commit="c" * 40, status="ok",
                       started_at=T0 + timedelta(seconds=start), finished_at=T0 + timedelta(seconds=start + seconds))


def test_pace_is_folded_from_tickets_proposals_and_runs_counting_a_repeat_once():
    watch = PaceWatch()
    for event in (ticket(1, 0), proposal(1, 3), run(1, 3, 1), ticket(2, 4)):
        watch.observe(event)
    assert watch.pace() is None  # one proposal timed is not yet a pace
    late = proposal(2, 9)
    watch.observe(late)
    watch.observe(late)
    pace = watch.pace()
    assert (pace.think_s, pace.run_s, pace.proposers) == (4.0, 1.0, 1)
    watch.added()
    assert watch.pace() is None and watch.proposers == 2  # the times before the new proposer say nothing of it
