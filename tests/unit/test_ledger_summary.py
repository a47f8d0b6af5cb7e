"""The ledger's summary figures against a campaign worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ledger.experiments import CampaignView
from services.ledger.store import EventStore
from services.ledger.summary import progress_points, summarize, trainer_time, trajectory
from tests.ledger_support import CampaignScript, at, hand_computed_campaign


def history_of(script: CampaignScript, tmp_path: Path) -> CampaignView:
    store = EventStore(tmp_path / "events.sqlite3")
    for event in script.events:
        store.add(event)
    return CampaignView.load(store, script.campaign)


def test_summary_of_the_hand_computed_campaign(tmp_path: Path) -> None:
    summary = summarize(history_of(hand_computed_campaign(), tmp_path))

    assert summary.baseline_val_bpb == 1.000
    assert summary.best_val_bpb == 0.980 and summary.best_description == "longer warmup"
    assert summary.best_experiment_id == "nov27-0005" and summary.best_commit and len(summary.best_commit) == 40
    assert summary.improvement_percent == pytest.approx(2.0)
    assert summary.counts.model_dump() == {"keep": 3, "discard": 1, "crash": 1, "rejected": 1}
    assert summary.experiments_total == 5
    # after the baseline: keep, discard, crash, keep -> 2 of 4 kept, a keep among the last 5
    assert summary.keep_rate == pytest.approx(0.5) and summary.trajectory == "improving"
    # five proposals (four run, one rejected) of 1200 + 300 tokens each, none priced
    assert (summary.proposal_input_tokens, summary.proposal_output_tokens, summary.proposal_cost) == (6000, 1500, None)
    assert summary.running is None and summary.finished is True
    # wall: campaign.started at 0 to campaign.finished at 322
    assert summary.wall_seconds == pytest.approx(322)
    # runs 10-70, 75-135, 140-200, 230-250, 260-320: 260 s training; gaps 5+5+30+10 and the tail 320-322
    assert summary.training_seconds == pytest.approx(260)
    assert summary.idle_seconds == pytest.approx(52)
    assert summary.idle_share == pytest.approx(52 / 312)


def test_running_experiment_shows_its_latest_step_line(tmp_path: Path) -> None:
    script = CampaignScript("live").start(0).baseline(1.0, 10, 70)
    script.running("bigger batch", start=80, step=120, percent=40.0, loss=2.5, progress_at=110)

    summary = summarize(history_of(script, tmp_path), now=at(125))

    assert summary.running is not None
    assert summary.running.experiment_id == "live-0001" and summary.running.description == "bigger batch"
    assert (summary.running.step, summary.running.percent, summary.running.loss) == (120, 40.0, 2.5)
    assert summary.running.elapsed_seconds == pytest.approx(45)
    assert summary.finished is False
    # window 10..110 (the last step line): training 60 + 30 still running, idle the 10 s gap
    assert summary.training_seconds == pytest.approx(90) and summary.idle_seconds == pytest.approx(10)


def test_trainer_time_merges_overlapping_runs_and_ignores_time_before_the_first_run() -> None:
    runs = [(at(100), at(160)), (at(150), at(170)), (at(200), None)]

    training, idle = trainer_time(runs, window_end=at(230))

    assert training == pytest.approx(70 + 30)
    assert idle == pytest.approx(30)


def test_campaign_with_no_run_has_no_idle_share(tmp_path: Path) -> None:
    summary = summarize(history_of(CampaignScript("fresh").start(0), tmp_path))

    assert summary.idle_share is None and summary.best_val_bpb is None and summary.experiments_total == 0


def test_progress_points_carry_the_running_best_and_leave_out_rejections(tmp_path: Path) -> None:
    points = progress_points(history_of(hand_computed_campaign(), tmp_path))

    assert [p.number for p in points] == [0, 1, 2, 3, 4]
    assert [p.status for p in points] == ["keep", "keep", "discard", "crash", "keep"]
    assert [p.best for p in points] == [1.0, 0.99, 0.99, 0.99, 0.98]
    assert points[3].val_bpb is None


def test_a_resumed_campaign_is_open_again(tmp_path: Path) -> None:
    script = hand_computed_campaign("again")
    script.running("after resume", start=400, step=1, percent=1.0, loss=3.0, progress_at=401)

    assert summarize(history_of(script, tmp_path)).finished is False


@pytest.mark.parametrize(("statuses", "word"), [
    ([], "starting"),
    (["discard", "keep"], "improving"),
    (["keep"] + ["discard"] * 4, "improving"),
    (["keep"] + ["discard"] * 5, "plateauing"),
    (["keep"] + ["discard", "crash"] * 4, "plateauing"),
    (["discard"] * 10, "stuck"),
    (["keep"] + ["crash"] * 5, "stuck"),
])
def test_trajectory_word_follows_the_documented_rule(statuses: list[str], word: str) -> None:
    assert trajectory(statuses) == word
