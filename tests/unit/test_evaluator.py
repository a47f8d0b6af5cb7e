"""The evaluator's handler: a verdict or one confirmation request per finished run, folded from what it has seen."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.evaluator.handlers import Judge, on_run_finished
from services.evaluator.noise import cautious_sigma
from services.evaluator.policy import KeepRule
from services.evaluator.standings import Standings
from shared.events import CommitMade, ConfirmationRequested, RunFinished, VerdictDecided
from tests.fakes import FakePublisher

BASE, COMMIT, OTHER = "b" * 40, "c" * 40, "d" * 40
NOW = datetime(2025, 11, 27, tzinfo=UTC)


def run(val_bpb: float | None = 1.0, status: str = "ok", *, commit: str = COMMIT, parent: str | None = BASE,
        experiment: str = "c1-0001", campaign: str = "c1", vram: float = 2048.0, repeat: int = 0,
        kept_state: bool = False) -> RunFinished:
    metrics = {} if val_bpb is None else {"val_bpb": val_bpb, "peak_vram_mb": vram}
    baseline = parent is None and not kept_state
    event_id = f"run-{experiment}-{commit}" + (f"-{repeat}" if repeat else "")
    return RunFinished(event_id=event_id, campaign=campaign, experiment_id=experiment, producer="trainer/1", commit=commit,
                       parent=parent, description="baseline" if baseline else "try something", status=status,
                       metrics=metrics, started_at=NOW, finished_at=NOW, baseline=baseline, repeat=repeat,
                       kept_state=kept_state)


def baseline_runs(*values: float, campaign: str = "c1") -> list[RunFinished]:
    return [run(v, commit=BASE, parent=None, experiment=f"{campaign}-0000", campaign=campaign, repeat=i)
            for i, v in enumerate(values)]


def judge(rule: KeepRule = KeepRule(), publish: FakePublisher | None = None) -> Judge:
    return Judge(rule=rule, standings=Standings(), publish=publish or FakePublisher(), producer="evaluator/1")


async def feed(j: Judge, *runs: RunFinished) -> None:
    for event in runs:
        await on_run_finished(event, j)


async def test_the_baseline_asks_for_its_repeats_then_is_kept_at_their_mean():
    j = judge()
    await feed(j, *baseline_runs(1.00, 1.02, 0.98))
    first, second, verdict = j.publish.events
    assert isinstance(first, ConfirmationRequested) and (first.commit, first.repeat, first.baseline) == (BASE, 1, True)
    assert isinstance(second, ConfirmationRequested) and second.repeat == 2
    assert isinstance(verdict, VerdictDecided) and verdict.status == "keep" and verdict.baseline
    assert verdict.val_bpb == verdict.best_after == 1.0 and verdict.runs == 3 and verdict.confirmations == 2
    assert verdict.sigma == pytest.approx(cautious_sigma(0.02, 2))  # σ̂ of three runs, raised to its upper bound


async def test_a_clear_gain_is_kept_after_one_run_with_sigma_on_the_verdict():
    j = judge()
    await feed(j, *baseline_runs(1.00, 1.01, 0.99), run(0.90))
    verdict = j.publish.events[-1]
    assert isinstance(verdict, VerdictDecided)
    assert (verdict.status, verdict.head, verdict.best_before, verdict.best_after) == ("keep", COMMIT, 1.0, 0.90)
    assert verdict.keep_rule == "sprt" and verdict.kept_runs == 3 and verdict.clear_gain is not None


async def test_an_ambiguous_run_gets_a_confirmation_run_of_the_change_then_a_verdict():
    j = judge()
    await feed(j, *baseline_runs(1.00, 1.01, 0.99), run(0.95))
    request = j.publish.events[-1]
    assert isinstance(request, ConfirmationRequested)
    assert (request.commit, request.repeat, request.kept_state, request.experiment_id) == (COMMIT, 1, False, "c1-0001")
    await feed(j, run(0.95, repeat=1))
    verdict = j.publish.events[-1]
    assert isinstance(verdict, VerdictDecided) and verdict.status == "keep"
    assert verdict.runs == 2 and verdict.confirmations == 1 and verdict.val_bpb == pytest.approx(0.95)


async def test_a_kept_state_rerun_is_asked_for_when_it_has_fewer_runs_and_counts_for_the_bar():
    j = judge(KeepRule(baseline_runs=1, noise_floor=0.01))
    await feed(j, *baseline_runs(1.0), run(0.99), run(0.985, repeat=1))
    request = j.publish.events[-1]
    assert isinstance(request, ConfirmationRequested) and request.kept_state and request.commit == BASE
    assert request.repeat == 1 and request.description == "kept state"
    await feed(j, run(1.0, commit=BASE, parent=None, kept_state=True, repeat=1))
    assert sorted(j.standings.of("c1").samples[BASE].values()) == [1.0, 1.0]


async def test_a_redelivered_run_publishes_the_same_event_again_which_the_bus_drops():
    j = judge()
    runs = baseline_runs(1.00, 1.01, 0.99)
    await feed(j, *runs, runs[-1])
    assert len(j.publish.of(VerdictDecided)) == 1


async def test_a_discard_leaves_head_and_bar_on_the_kept_state():
    j = judge()
    await feed(j, *baseline_runs(1.00, 1.01, 0.99), run(1.10))
    verdict = j.publish.events[-1]
    assert (verdict.status, verdict.head, verdict.best_before, verdict.best_after) == ("discard", BASE, 1.0, 1.0)


async def test_a_crashed_confirmation_run_makes_the_experiment_a_crash():
    j = judge()
    await feed(j, *baseline_runs(1.00, 1.01, 0.99), run(0.985), run(None, "crash", repeat=1))
    verdict = j.publish.events[-1]
    assert isinstance(verdict, VerdictDecided) and verdict.status == "crash" and verdict.head == BASE


async def test_simplicity_uses_the_commit_s_line_counts():
    j = judge(KeepRule(max_runs=2))
    commit = CommitMade(campaign="c1", experiment_id="c1-0001", producer="editor/1", commit=COMMIT, parent=BASE,
                        message="experiment: drop a layer", description="drop a layer", diff="", lines_added=0,
                        lines_removed=12, bundle="b")
    j.standings.apply(commit)
    await feed(j, *baseline_runs(1.00, 1.01, 0.99), run(1.0), run(1.0, repeat=1),
               run(1.0, commit=BASE, parent=None, kept_state=True, repeat=1))
    verdict = j.publish.events[-1]
    assert isinstance(verdict, VerdictDecided) and verdict.status == "keep" and "simplicity" in verdict.reason


async def test_greedy_compares_with_the_best_single_draw():
    j = judge(KeepRule(name="greedy", baseline_runs=1))
    await feed(j, *baseline_runs(1.0), run(0.99), run(0.995, commit=OTHER, parent=COMMIT, experiment="c1-0002"))
    keep, discard = j.publish.events[-2:]
    assert (keep.status, keep.best_after, discard.status, discard.best_before) == ("keep", 0.99, "discard", 0.99)
    assert keep.keep_rule == "greedy" and keep.clear_gain is None


async def test_campaigns_keep_separate_standings():
    j = judge(KeepRule(baseline_runs=1))
    await feed(j, *baseline_runs(0.5, campaign="c1"), run(0.9, commit=OTHER, parent=None, experiment="c2-0000", campaign="c2"))
    assert j.standings.of("c1").head == BASE and j.standings.of("c2").head == OTHER


async def test_verdict_id_is_derived_from_the_experiment_so_a_republish_is_deduplicated():
    first, second = judge(KeepRule(baseline_runs=1)), judge(KeepRule(baseline_runs=1))
    await feed(first, *baseline_runs(1.0), run(0.9))
    await feed(second, *baseline_runs(1.0), run(0.9))
    assert first.publish.events[-1].event_id == second.publish.events[-1].event_id == f"verdict-c1-0001-{COMMIT}"


async def test_a_crash_verdict_carries_the_trainer_s_reason():
    j = judge(KeepRule(baseline_runs=1))
    refused = run(None, "crash")
    refused = refused.model_copy(update={"metrics": {"crash_reason": "val_bpb was not computed by prepare.py"}})
    await feed(j, *baseline_runs(1.0), refused)
    verdict = j.publish.events[-1]
    assert verdict.status == "crash" and verdict.reason == "crashed: val_bpb was not computed by prepare.py"
