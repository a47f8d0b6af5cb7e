"""The bayes keep rule over hand-made evidence: the campaign's past gains decide how much one run must show."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from services.evaluator.bayes import PastGain, fit_prior
from services.evaluator.handlers import Judge, on_run_finished
from services.evaluator.policy import Evidence, KeepRule, decide
from services.evaluator.standings import Standings
from shared.events import RunFinished, VerdictDecided
from tests.fakes import FakePublisher

BAYES = KeepRule(name="bayes")
SIGMA = 0.01
KEPT = (1.00, 1.01, 0.99)  # the kept state's mean is 1.00
# most past changes gained about 5σ; or most gained nothing, one a real 5σ
GAINS = tuple(PastGain(g, 1, 3) for g in (0.05, 0.06, 0.04, 0.08, 0.05, 0.07, 0.045, 0.055, 0.06, 0.05, -0.01, 0.065))
NULLS = tuple(PastGain(g, 2, 3) for g in (0.0, -0.01, 0.005, -0.02, 0.01, -0.005, 0.0, -0.015, 0.002, -0.03, 0.05, -0.01))


def evidence(*candidate: float, kept: tuple[float, ...] = KEPT, history: tuple[PastGain, ...] = (), **more) -> Evidence:
    return Evidence(candidate=candidate, kept=kept, sigma_estimate=2 * SIGMA, sigma_median=SIGMA, history=history, **more)


def test_a_clear_gain_is_kept_after_one_run_when_most_past_changes_were_gains():
    decision = decide(evidence(0.9625, history=GAINS), BAYES)  # 3.75σ below the kept state's mean
    assert (decision.status, decision.sigma) == ("keep", SIGMA)  # the median σ̂, not the upper bound
    assert "P(no gain) 0.00" in decision.reason


def test_the_same_run_asks_for_a_confirmation_when_most_past_changes_gained_nothing():
    decision = decide(evidence(0.9625, history=NULLS), BAYES)
    assert (decision.status, decision.confirm_kept) == ("confirm", False)
    again = decide(evidence(0.9625, 0.96, 0.965, kept=KEPT + (1.0,), history=NULLS, confirmations=3), BAYES)
    assert again.status == "keep"


def test_a_clear_loss_is_discarded_after_one_run():
    decision = decide(evidence(1.03, history=NULLS), BAYES)
    assert decision.status == "discard" and "P(no gain) 0.99" in decision.reason


def test_never_keeps_while_the_chance_of_no_gain_is_above_the_share():
    rng = random.Random(3)
    for _ in range(80):
        history = tuple(PastGain(rng.gauss(rng.choice((0.0, 0.03)), 0.02), 1, 3) for _ in range(rng.randrange(0, 15)))
        gain = rng.uniform(-0.01, 0.06)
        decision = decide(evidence(1.0 - gain, history=history), BAYES)
        variance = SIGMA**2 * (1 + 1 / 3)
        none = fit_prior(history, SIGMA, gain, variance).posterior(gain, variance).at_most(0.0)
        assert (decision.status == "keep") == (none <= BAYES.false_keep_share), (gain, none, decision)


def test_few_changes_with_no_gain_are_kept_when_most_changes_gain_nothing():
    rng, keeps, trials = random.Random(11), 0, 100
    for _ in range(trials):
        kept, candidate = [rng.gauss(1.0, SIGMA) for _ in range(3)], [rng.gauss(1.0, SIGMA)]
        while (decision := decide(evidence(*candidate, kept=tuple(kept), history=NULLS,
                                           confirmations=len(candidate) + len(kept) - 4), BAYES)).status == "confirm":
            (kept if decision.confirm_kept else candidate).append(rng.gauss(1.0, SIGMA))
        keeps += decision.status == "keep"
    assert keeps / trials <= BAYES.false_keep_share


def test_without_measured_noise_every_difference_is_real():
    plain = dict(kept=(1.0, 1.0, 1.0), sigma_estimate=0.0, sigma_median=0.0)
    assert decide(Evidence(candidate=(0.9999,), **plain), BAYES).status == "keep"
    assert decide(Evidence(candidate=(1.0,), **plain), BAYES).status == "discard"


def test_the_same_evidence_gives_the_same_decision():
    first, second = decide(evidence(0.97, history=NULLS), BAYES), decide(evidence(0.97, history=NULLS), BAYES)
    assert first == second and first.status == "confirm"


NOW = datetime(2025, 11, 27, tzinfo=UTC)
BASE = "b" * 40


def finished(experiment: int, commit: str, value: float, repeat: int = 0, kept_state: bool = False) -> RunFinished:
    baseline = experiment == 0
    return RunFinished(event_id=f"run-{experiment}-{commit[:4]}-{repeat}-{kept_state}", campaign="c1",
                       experiment_id=f"c1-{experiment:04d}", producer="trainer/1", commit=commit,
                       parent=None if baseline else BASE, description="change", status="ok",
                       metrics={"val_bpb": value, "peak_vram_mb": 100.0}, started_at=NOW, finished_at=NOW,
                       baseline=baseline, repeat=repeat, kept_state=kept_state)


async def test_a_restarted_evaluator_folds_the_same_past_gains_and_decides_the_same():
    rng, live = random.Random(5), Judge(BAYES, Standings(), FakePublisher(), "evaluator/1")
    stream: list = []

    async def answer(run: RunFinished) -> None:
        before = len(live.publish.events)
        await on_run_finished(run, live)
        stream.append(run)
        stream.extend(e for e in live.publish.events[before:] if isinstance(e, VerdictDecided))

    for repeat in range(3):
        await answer(finished(0, BASE, rng.gauss(1.0, SIGMA), repeat))
    for experiment in range(1, 9):
        commit, runs = f"{experiment:040x}", 0
        await answer(finished(experiment, commit, rng.gauss(1.0 - 0.02 * (experiment % 2), SIGMA)))
        while not isinstance(live.publish.events[-1], VerdictDecided):
            ask = live.publish.events[-1]
            runs += 1
            await answer(finished(experiment, ask.commit, rng.gauss(1.0, SIGMA), runs, ask.kept_state))
    restarted = Standings()
    for event in stream:
        restarted.apply(event)
    gains = live.standings.of("c1").gains
    assert len(gains) == 8 and restarted.of("c1").gains == gains
    nxt = finished(9, "9" * 40, 0.985)
    live.standings.apply(nxt)
    restarted.apply(nxt)
    assert decide(restarted.of("c1").evidence("c1-0009"), BAYES) == decide(live.standings.of("c1").evidence("c1-0009"), BAYES)
