"""The evaluator: the keep/discard policy and its handler's one verdict per run."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.evaluator.handlers import Standings, on_run_finished
from services.evaluator.policy import decide_verdict, memory_gb
from shared.events import RunFinished, VerdictDecided
from tests.fakes import FakePublisher

BASE, PARENT, COMMIT = "b" * 40, "p" * 40, "c" * 40
NOW = datetime(2025, 11, 27, tzinfo=UTC)



def run(val_bpb: float | None = 1.0, status: str = "ok", *, commit: str = COMMIT, parent: str | None = PARENT,
        experiment: str = "c1-0001", campaign: str = "c1", vram: float = 2048.0) -> RunFinished:
    metrics = {} if val_bpb is None else {"val_bpb": val_bpb, "peak_vram_mb": vram}
    return RunFinished(campaign=campaign, experiment_id=experiment, producer="trainer/1", commit=commit, parent=parent,
                       description="try something", status=status, metrics=metrics, started_at=NOW, finished_at=NOW,
                       baseline=parent is None)


# decide_verdict

def test_baseline_is_kept_and_becomes_the_best():
    decision = decide_verdict(run(1.1, commit=BASE, parent=None), None)
    assert (decision.status, decision.head, decision.best_after, decision.val_bpb) == ("keep", BASE, 1.1, 1.1)
    assert decision.memory_gb == 2.0


def test_improvement_is_kept_and_moves_the_head():
    decision = decide_verdict(run(0.95), 1.0)
    assert (decision.status, decision.head, decision.best_after) == ("keep", COMMIT, 0.95)
    assert "0.950000 < best 1.000000" in decision.reason


def test_equal_val_bpb_is_discarded():
    decision = decide_verdict(run(1.0), 1.0)
    assert (decision.status, decision.head, decision.best_after) == ("discard", PARENT, 1.0)


def test_worse_run_is_discarded_with_head_at_the_parent():
    decision = decide_verdict(run(1.2, vram=4096.0), 1.0)
    assert (decision.status, decision.head, decision.best_after) == ("discard", PARENT, 1.0)
    assert (decision.val_bpb, decision.memory_gb) == (1.2, 4.0)


@pytest.mark.parametrize("status", ["crash", "timeout"])
def test_failed_run_is_a_crash_with_head_at_the_parent_and_zeros(status: str):
    decision = decide_verdict(run(0.5, status), 1.0)
    assert (decision.status, decision.head, decision.best_after) == ("crash", PARENT, 1.0)
    assert (decision.val_bpb, decision.memory_gb) == (None, 0.0)
    assert status in decision.reason


def test_crashed_baseline_keeps_the_base_commit_as_head():
    decision = decide_verdict(run(None, "crash", commit=BASE, parent=None), None)
    assert (decision.status, decision.head, decision.best_after) == ("crash", BASE, None)


def test_first_ok_run_after_a_crashed_baseline_is_kept():
    decision = decide_verdict(run(1.3, parent=BASE), None)
    assert (decision.status, decision.head, decision.best_after) == ("keep", COMMIT, 1.3)
    assert decision.reason == "first successful run"


def test_memory_is_peak_vram_in_gigabytes_to_one_decimal():
    assert memory_gb({"peak_vram_mb": 45060.2}) == 44.0
    assert memory_gb({"peak_vram_mb": "n/a"}) == 0.0
    assert memory_gb({}) == 0.0


# on_run_finished

async def test_run_gets_exactly_one_verdict():
    publish, standings = FakePublisher(), Standings(best={"c1": 1.0})
    await on_run_finished(run(0.9), standings, publish, "evaluator/1")
    assert len(publish.events) == 1
    verdict = publish.events[0]
    assert isinstance(verdict, VerdictDecided)
    assert (verdict.status, verdict.commit, verdict.head, verdict.experiment_id) == ("keep", COMMIT, COMMIT, "c1-0001")
    assert (verdict.best_before, verdict.best_after) == (1.0, 0.9)
    assert verdict.producer == "evaluator/1" and verdict.description == "try something"
    assert standings.best["c1"] == 0.9


async def test_redelivered_run_publishes_nothing():
    publish, standings = FakePublisher(), Standings()
    await on_run_finished(run(1.0, commit=BASE, parent=None, experiment="c1-0000"), standings, publish, "e")
    await on_run_finished(run(1.0, commit=BASE, parent=None, experiment="c1-0000"), standings, publish, "e")
    assert len(publish.events) == 1


async def test_discard_keeps_the_best_before_and_after():
    publish, standings = FakePublisher(), Standings()
    await on_run_finished(run(1.0, commit=BASE, parent=None, experiment="c1-0000"), standings, publish, "e")
    await on_run_finished(run(1.1, parent=BASE), standings, publish, "e")
    baseline, worse = publish.events
    assert (baseline.best_before, baseline.best_after, baseline.baseline) == (None, 1.0, True)
    assert (worse.status, worse.head, worse.best_before, worse.best_after) == ("discard", BASE, 1.0, 1.0)


async def test_campaigns_keep_separate_bests():
    publish, standings = FakePublisher(), Standings(best={"c1": 0.5})
    await on_run_finished(run(0.9, campaign="c2"), standings, publish, "e")
    assert (publish.events[0].status, publish.events[0].best_before) == ("keep", None)
    assert standings.best == {"c1": 0.5, "c2": 0.9}


async def test_verdict_id_is_derived_from_the_run_so_a_republish_is_deduplicated():
    first, second = FakePublisher(), FakePublisher()
    await on_run_finished(run(0.9), Standings(), first, "e")
    await on_run_finished(run(0.9), Standings(), second, "e")
    assert first.events[0].event_id == second.events[0].event_id == f"verdict-c1-0001-{COMMIT}"
