"""Every run of an experiment in the ledger: confirmation runs, re-runs of the kept state, the campaign's noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.ledger.experiments import CampaignView
from services.ledger.store import EventStore
from services.ledger.summary import summarize
from shared.events import ConfirmationRequested, Event, RunStarted, VerdictDecided
from tests.ledger_support import CampaignScript, at, sha


def view_of(events: list[Event], tmp_path: Path, campaign: str = "nov27") -> CampaignView:
    store = EventStore(tmp_path / "events.sqlite3")
    for event in events:
        store.add(event)
    return CampaignView.load(store, campaign)


def confirmed_campaign() -> tuple[CampaignScript, str]:
    """A baseline, then a change run three times and the kept state re-run once within its experiment."""
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    experiment = script.confirmed("warmup 5%", [0.995, 0.997, 0.996], start=100, kept=[1.001], sigma=0.0021)
    return script, experiment


def detail(view: CampaignView, experiment: str):
    return next(row for row in view.experiments if row.experiment_id == experiment)


def test_every_run_of_an_experiment_is_listed_and_the_kept_state_never_becomes_its_commit(tmp_path: Path) -> None:
    script, experiment = confirmed_campaign()
    row = detail(view_of(script.events, tmp_path), experiment)

    change, tip = sha("nov27:warmup 5%"), sha("base")
    assert [(run.commit, run.repeat, run.kept_state, run.status, run.val_bpb) for run in row.all_runs] == [
        (change, 0, False, "ok", 0.995), (change, 1, False, "ok", 0.997), (change, 2, False, "ok", 0.996),
        (tip, 1, True, "ok", 1.001),
    ]
    assert [(run.started_at, run.finished_at) for run in row.all_runs] == [(at(s), at(s + 10)) for s in (100, 111, 122, 133)]
    assert all(run.memory_gb == 44.0 and run.duration_seconds == 10 for run in row.all_runs)
    assert row.commit == change and row.run is not None and row.run.commit == change and row.run.repeat == 2
    assert row.val_bpb == pytest.approx(0.996) and row.status == "keep"  # the verdict's mean, not any one run
    assert (row.runs, row.confirmations, row.duration_seconds) == (4, 3, 40)
    assert row.verdict is not None and (row.verdict.sigma, row.verdict.runs, row.verdict.kept_runs) == (0.0021, 3, 1)
    assert row.confirmation is None


def test_a_running_rerun_of_the_kept_state_leaves_the_experiment_on_its_change(tmp_path: Path) -> None:
    script, experiment = confirmed_campaign()
    # up to the kept state's run.started: asked for, started, not finished
    cut = next(i for i, e in enumerate(script.events) if isinstance(e, RunStarted) and e.commit == sha("base") and i > 5)
    view = view_of(script.events[:cut + 1], tmp_path)
    row = detail(view, experiment)

    assert row.commit == sha("nov27:warmup 5%") and row.status == "running"
    assert (row.all_runs[-1].kept_state, row.all_runs[-1].status) == (True, "running")
    summary = summarize(view, now=at(140))
    assert summary.running is not None and summary.running.kept_state and summary.running.run_number == 4
    assert summary.state == "confirming" and summary.confirming is not None and summary.confirming.kept_state


def test_summary_shows_noise_confirmation_runs_and_the_keep_rule(tmp_path: Path) -> None:
    script, _ = confirmed_campaign()
    script.experiment("wider MLP", 1.2, 200, 210)

    summary = summarize(view_of(script.events, tmp_path))

    assert summary.confirmation_runs == 3 and summary.runs_total == 6
    assert summary.state == "waiting" and summary.confirming is None
    assert (summary.sigma, summary.keep_rule) == (None, "greedy")  # the latest verdict's, which had none


def test_sigma_and_keep_rule_come_from_the_latest_verdict(tmp_path: Path) -> None:
    script, _ = confirmed_campaign()

    summary = summarize(view_of(script.events, tmp_path))

    assert (summary.sigma, summary.keep_rule) == (0.0021, "sprt")
    assert summarize(view_of(CampaignScript("fresh").start(0).events, tmp_path / "b", "fresh")).sigma is None


def test_a_confirmation_asked_for_after_the_last_run_makes_the_campaign_confirming(tmp_path: Path) -> None:
    script, experiment = confirmed_campaign()
    asked = next(i for i, e in enumerate(script.events) if isinstance(e, ConfirmationRequested) and e.repeat == 2)

    summary = summarize(view_of(script.events[:asked + 1], tmp_path))

    assert summary.state == "confirming" and summary.running is None
    assert summary.confirming is not None
    assert (summary.confirming.experiment_id, summary.confirming.repeat, summary.confirming.run_number) == (experiment, 2, 3)
    assert summary.confirming.description == "warmup 5%" and summary.confirming.sigma == 0.0021
    assert summary.confirmation_runs == 1  # the second run of the change, finished


def test_the_confirmation_run_shows_which_run_it_is_while_it_trains(tmp_path: Path) -> None:
    script, experiment = confirmed_campaign()
    started = next(i for i, e in enumerate(script.events) if isinstance(e, RunStarted) and e.experiment_id == experiment
                   and e.occurred_at == at(111))

    summary = summarize(view_of(script.events[:started + 1], tmp_path), now=at(115))

    assert summary.running is not None and (summary.running.repeat, summary.running.run_number) == (1, 2)
    assert summary.confirming is not None and summary.confirming.run_number == 2


def test_the_verdict_ends_the_confirming_state(tmp_path: Path) -> None:
    script, _ = confirmed_campaign()
    verdict = max(i for i, e in enumerate(script.events) if isinstance(e, VerdictDecided))

    before = summarize(view_of(script.events[:verdict], tmp_path / "a"))
    after = summarize(view_of(script.events[:verdict + 1], tmp_path / "b"))

    assert before.state == "waiting"  # the last asked-for run has finished: the evaluator is deciding
    assert after.state == "waiting" and after.confirming is None and after.counts.keep == 2


def test_a_restarted_confirmation_run_is_listed_once(tmp_path: Path) -> None:
    script, experiment = confirmed_campaign()
    again = next(i for i, e in enumerate(script.events) if isinstance(e, RunStarted) and e.occurred_at == at(111))
    restarted = script.events[again].model_copy(update={"event_id": "restart", "occurred_at": at(112)})
    events = [*script.events[:again + 1], restarted, *script.events[again + 1:]]

    row = detail(view_of(events, tmp_path), experiment)

    assert row.runs == 4 and [run.repeat for run in row.all_runs if not run.kept_state] == [0, 1, 2]


def test_a_baseline_run_three_times_is_one_experiment_of_three_runs(tmp_path: Path) -> None:
    script = CampaignScript().start(0)
    experiment = script.repeated_baseline([1.0, 1.004, 0.996], start=10)
    view = view_of(script.events, tmp_path)
    row = detail(view, experiment)

    assert [(run.repeat, run.commit) for run in row.all_runs] == [(0, sha("base")), (1, sha("base")), (2, sha("base"))]
    assert (row.runs, row.confirmations, row.description) == (3, 2, "baseline")
    assert len(view.decided) == 1 and view.decided[0].val_bpb == pytest.approx(1.0)
    assert summarize(view).baseline_val_bpb == pytest.approx(1.0)
