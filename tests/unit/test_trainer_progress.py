"""CampaignProgress: the lookahead bound, rejections, the experiment limit, idempotent folding."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from services.trainer.progress import CampaignProgress
from shared.ids import campaign_limited_id, experiment_id
from shared.events import (
    CampaignFinished, CampaignLimited, CampaignStarted, ProposalRejected, ProposalRequested, RunFinished, VerdictDecided,
)

CAMPAIGN, BASE = "c1", "b" * 40
IDS = dict(campaign=CAMPAIGN, producer="trainer/1")
NOW = datetime(2025, 11, 27, tzinfo=UTC)


def started() -> CampaignStarted:
    return CampaignStarted(**IDS, experiment_id=experiment_id(CAMPAIGN, 0), branch="autoresearch/c1",
                           base_commit=BASE, bundle="b", lookahead=1)


def ticket(sequence: int) -> ProposalRequested:
    return ProposalRequested(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), base_commit=BASE, sequence=sequence)


def rejected(sequence: int) -> ProposalRejected:
    return ProposalRejected(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), reason="does not compile")


def finished(sequence: int) -> RunFinished:
    return RunFinished(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), commit=f"{sequence:040d}", status="ok",
                       metrics={"val_bpb": 1.0}, started_at=NOW, finished_at=NOW, baseline=sequence == 0,
                       parent=None if sequence == 0 else BASE)


def verdict(sequence: int) -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=experiment_id(CAMPAIGN, sequence), commit=f"{sequence:040d}",
                          status="keep", head=BASE, baseline=sequence == 0)


def request_tickets(progress: CampaignProgress) -> list[int]:
    """What the trainer does: take tickets while the progress allows."""
    sequences = []
    while progress.wants_ticket():
        sequence = progress.tickets + 1
        progress.apply(ticket(sequence))
        sequences.append(sequence)
    return sequences


def decide(progress: CampaignProgress, sequence: int) -> None:
    progress.apply(finished(sequence))
    progress.apply(verdict(sequence))


def opened(lookahead: int, limit: int | None = None) -> CampaignProgress:
    progress = CampaignProgress(CAMPAIGN, lookahead=lookahead, limit=limit)
    progress.apply(started())
    return progress


def test_experiment_ids_read_in_order():
    assert experiment_id("nov27", 0) == "nov27-0000"
    assert experiment_id("nov27", 12) == "nov27-0012"


def test_lookahead_zero_waits_for_the_baseline_verdict_before_the_first_ticket():
    progress = opened(0)
    assert request_tickets(progress) == []
    decide(progress, 0)
    assert request_tickets(progress) == [1]


def test_lookahead_zero_keeps_one_experiment_outstanding_at_a_time():
    progress = opened(0)
    decide(progress, 0)
    assert request_tickets(progress) == [1]
    assert request_tickets(progress) == []
    decide(progress, 1)
    assert request_tickets(progress) == [2]
    assert progress.outstanding == 1


def test_lookahead_two_allows_three_outstanding_once_the_baseline_is_kept():
    progress = opened(2)
    assert request_tickets(progress) == []  # nothing is proposed before the baseline is kept
    decide(progress, 0)
    assert request_tickets(progress) == [1, 2, 3]
    assert progress.outstanding == 3
    decide(progress, 1)
    assert request_tickets(progress) == [4]


def test_rejection_frees_a_slot():
    progress = opened(0)
    decide(progress, 0)
    request_tickets(progress)
    progress.apply(rejected(1))
    assert progress.outstanding == 0
    assert request_tickets(progress) == [2]


def test_limit_stops_tickets():
    progress = opened(5, limit=2)
    decide(progress, 0)
    assert request_tickets(progress) == [1, 2]
    decide(progress, 1)
    assert request_tickets(progress) == []


def test_rejected_tickets_do_not_count_toward_the_limit():
    progress = opened(5, limit=2)
    decide(progress, 0)
    request_tickets(progress)
    progress.apply(rejected(2))
    assert request_tickets(progress) == [3]


def test_campaign_is_complete_once_the_limit_is_decided():
    progress = opened(1, limit=2)
    decide(progress, 0)
    request_tickets(progress)
    decide(progress, 1)
    assert not progress.is_complete()
    request_tickets(progress)
    decide(progress, 2)
    assert progress.is_complete()
    assert progress.should_announce_finish()


def test_finish_is_announced_once():
    progress = opened(1, limit=1)
    decide(progress, 0)
    request_tickets(progress)
    decide(progress, 1)
    assert progress.should_announce_finish()
    progress.apply(CampaignFinished(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), experiments=1, head=BASE))
    assert progress.is_complete()
    assert not progress.should_announce_finish()


def test_without_a_limit_the_campaign_never_completes():
    progress = opened(0)
    decide(progress, 0)
    request_tickets(progress)
    decide(progress, 1)
    assert not progress.is_complete()


def test_resume_with_a_higher_limit_announces_again_at_the_new_limit():
    progress = opened(0, limit=1)
    decide(progress, 0)
    request_tickets(progress)
    decide(progress, 1)
    progress.apply(CampaignFinished(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), experiments=1, head=BASE))

    resumed = CampaignProgress(CAMPAIGN, lookahead=0)
    for event in [started(), finished(0), verdict(0), ticket(1), finished(1), verdict(1),
                  CampaignFinished(**IDS, experiment_id=experiment_id(CAMPAIGN, 1), experiments=1, head=BASE)]:
        resumed.apply(event)
    resumed.limit = resumed.decided + 1
    assert not resumed.is_complete() and not resumed.should_announce_finish()
    assert request_tickets(resumed) == [2]
    decide(resumed, 2)
    assert resumed.should_announce_finish()


def test_run_awaits_its_verdict():
    progress = opened(1)
    progress.apply(finished(0))
    assert progress.awaiting_verdict == "c1-0000"
    progress.apply(verdict(0))
    assert progress.awaiting_verdict is None


def test_applying_the_same_events_twice_changes_nothing():
    progress = opened(1, limit=3)
    events = [finished(0), verdict(0), ticket(1), ticket(2), rejected(1), finished(2), verdict(2)]
    for event in events:
        progress.apply(event)
    once = copy.deepcopy(progress)
    for event in events:
        progress.apply(event)
    assert progress == once
    assert (progress.tickets, progress.rejected, progress.decided, progress.outstanding) == (2, 1, 1, 0)


def test_a_run_finished_again_after_its_verdict_is_not_awaited_again():
    progress = opened(1)
    decide(progress, 0)
    progress.apply(finished(0))
    assert progress.awaiting_verdict is None


def test_events_of_another_campaign_are_ignored():
    progress = opened(1)
    other = ProposalRequested(campaign="c2", producer="p", experiment_id="c2-0001", base_commit=BASE, sequence=7)
    progress.apply(other)
    assert progress.tickets == 0


# the experiment limit, stored in the stream

def limited(revision: int, limit: int | None, session: str | None) -> CampaignLimited:
    return CampaignLimited(**IDS, event_id=campaign_limited_id(CAMPAIGN, revision), experiment_id=experiment_id(CAMPAIGN, 0),
                           limit=limit, session=session)


def restarted(events: list) -> CampaignProgress:
    """A trainer's progress rebuilt from the stream after a restart."""
    progress = CampaignProgress(CAMPAIGN, lookahead=0)
    for event in events:
        progress.apply(event)
    return progress


def test_the_limit_comes_from_the_stream_and_the_latest_one_wins():
    progress = restarted([started(), limited(1, 4, "up-1"), limited(2, 6, "up-2")])
    assert (progress.limit, progress.limit_session) == (6, "up-2")
    progress.apply(limited(1, 4, "up-1"))  # a copy of an event already folded changes nothing
    assert (progress.limit, progress.limit_session) == (6, "up-2")


def test_a_limit_set_by_a_session_is_kept_when_its_trainer_restarts():
    history = [started(), limited(1, 4, "up-1"), finished(0), verdict(0), ticket(1), finished(1), verdict(1),
               ticket(2), finished(2), verdict(2)]
    progress = restarted(history)
    assert progress.decided == 2
    asked = progress.limit_asked(4, "up-1")
    assert asked == 4  # not 2 + 4: the session's limit was fixed when it began
    assert not progress.limit_changes(asked, "up-1")


def test_a_new_session_counts_its_experiments_beyond_those_already_decided():
    progress = restarted([started(), limited(1, 1, "up-1"), finished(0), verdict(0), ticket(1), finished(1), verdict(1)])
    asked = progress.limit_asked(2, "up-2")
    assert asked == 3
    assert progress.limit_changes(asked, "up-2")


def test_a_new_session_asking_for_the_same_total_still_takes_the_limit_over():
    progress = restarted([started(), limited(1, 3, "up-1"), finished(0), verdict(0), ticket(1), finished(1), verdict(1)])
    assert progress.limit_asked(2, "up-2") == 3
    assert progress.limit_changes(3, "up-2")  # else a restart in up-2 would count again from a later decided


def test_without_a_session_the_limit_counts_from_the_campaign_start():
    progress = restarted([started(), finished(0), verdict(0), ticket(1), finished(1), verdict(1)])
    assert progress.limit_asked(4, None) == 4
    progress.apply(limited(1, 4, None))
    assert not progress.limit_changes(progress.limit_asked(4, None), None)


def test_a_session_without_a_limit_lifts_the_previous_one():
    progress = restarted([started(), limited(1, 2, "up-1")])
    assert progress.limit_asked(None, "up-2") is None
    assert progress.limit_changes(None, "up-2")
    assert not restarted([started()]).limit_changes(None, "up-3")  # nothing to record when there never was a limit
