"""The keep rule as a pure function over hand-made evidence: noise, the mean bar, confirmations, simplicity, memory."""

from __future__ import annotations

import math
import random

import pytest

from services.evaluator.noise import SequentialTest, pooled_noise
from services.evaluator.policy import Evidence, KeepRule, decide, memory_gb

SPRT = KeepRule()
GREEDY = KeepRule(name="greedy", baseline_runs=1)
SIGMA = 0.01
KEPT = (1.00, 1.01, 0.99)  # the kept state's mean is 1.00, its runs scatter by σ = 0.01


def evidence(*candidate: float, kept: tuple[float, ...] = KEPT, sigma: float | None = SIGMA, **more) -> Evidence:
    return Evidence(candidate=candidate, kept=kept, sigma_estimate=sigma, **more)


# the noise estimate

def test_pooled_sigma_uses_each_commit_s_own_mean():
    # two commits 0.1 apart, each scattering by exactly 0.01: the gap between them is not noise
    assert pooled_noise([[1.00, 1.02], [1.10, 1.12]]) == (pytest.approx(math.sqrt(0.0002 * 2 / 2)), 2)
    assert pooled_noise([[1.0], [2.0]]) is None


def test_pooled_sigma_estimates_a_known_sigma():
    rng = random.Random(7)
    groups = [[rng.gauss(mu, 0.02) for _ in range(3)] for mu in (0.9, 1.0, 1.1) * 40]
    assert pooled_noise(groups)[0] == pytest.approx(0.02, rel=0.1)


def test_noise_floor_applies_when_the_estimate_is_smaller():
    rule = KeepRule(noise_floor=0.05)
    assert rule.sigma(0.01) == 0.05 and rule.sigma(None) == 0.05 and rule.sigma(0.08) == 0.08


# the sequential rule

def test_clearly_better_change_is_kept_after_one_run():
    decision = decide(evidence(0.95), SPRT)  # 5σ below the kept state's mean
    assert (decision.status, decision.val_bpb, decision.sigma) == ("keep", 0.95, SIGMA)
    assert "gain 0.050000" in decision.reason and "mean" in decision.reason


def test_clearly_worse_change_is_discarded_after_one_run():
    decision = decide(evidence(1.02), SPRT)
    assert decision.status == "discard" and "no real gain" in decision.reason


def test_ambiguous_change_asks_for_another_run_of_itself():
    decision = decide(evidence(0.98), SPRT)  # 2σ: could be luck
    assert (decision.status, decision.confirm_kept) == ("confirm", False)


def test_the_kept_state_runs_again_when_it_has_fewer_runs():
    decision = decide(evidence(0.98, 0.985, kept=(1.0,)), SPRT)
    assert (decision.status, decision.confirm_kept) == ("confirm", True)


def test_the_bar_is_the_kept_state_s_mean_not_its_luckiest_draw():
    # the kept state drew 0.97 once by luck; its mean is 1.00: a change at 0.95 is a real 5σ gain
    decision = decide(evidence(0.95, kept=(0.97, 1.02, 1.01)), SPRT)
    assert decision.status == "keep"
    greedy = decide(Evidence(candidate=(0.975,), kept=(), best_draw=0.97), GREEDY)
    assert greedy.status == "discard"


def test_confirmation_runs_decide_once_the_mean_is_clear():
    assert decide(evidence(0.96, 0.965, 0.97, kept=(1.0, 1.01, 0.99, 1.0)), SPRT).status == "keep"
    assert decide(evidence(0.98, 1.0, 1.01, 0.995, kept=(1.0, 1.01, 0.99, 1.0)), SPRT).status == "discard"


def test_at_the_run_budget_the_likelier_hypothesis_decides():
    rule = KeepRule(max_runs=2)
    small = decide(evidence(0.99, 0.99, kept=(1.0, 1.0), confirmations=2), rule)  # 1σ: likelier no gain than 3σ
    assert small.status == "discard" and "not shown better after 2 runs" in small.reason
    larger = decide(evidence(0.98, 0.98, kept=(1.0, 1.0), confirmations=2), rule)  # 2σ: likelier 3σ than none
    assert larger.status == "keep" and "likelier a gain than none after 2 runs" in larger.reason


def test_a_simpler_change_that_cannot_be_told_apart_is_kept_with_the_reason():
    decision = decide(evidence(1.0, 0.995, 1.0, 1.005, kept=(1.0, 1.01, 0.99, 1.0), lines_added=1, lines_removed=5), SPRT)
    assert decision.status == "keep" and "simplicity" in decision.reason
    same_code = decide(evidence(1.0, 0.995, 1.0, 1.005, kept=(1.0, 1.01, 0.99, 1.0), lines_added=5, lines_removed=5), SPRT)
    assert same_code.status != "keep"


def test_a_simpler_change_that_is_clearly_worse_is_discarded():
    decision = decide(evidence(1.05, lines_added=0, lines_removed=9), SPRT)
    assert decision.status == "discard" and "though simpler" in decision.reason


def test_an_exact_tie_without_noise_is_kept_only_when_it_removes_code():
    tie = dict(kept=(1.0, 1.0, 1.0), sigma=0.0)
    assert decide(evidence(1.0, lines_added=0, lines_removed=3, **tie), SPRT).status == "keep"
    assert decide(evidence(1.0, lines_added=3, lines_removed=0, **tie), SPRT).status == "discard"
    assert decide(evidence(0.9999, **tie), SPRT).status == "keep"  # no noise: any gain is real, decided at once


def test_over_the_vram_budget_is_discarded_whatever_its_val_bpb():
    rule = KeepRule(vram_budget_gb=23)
    decision = decide(evidence(0.5, peak_memory_gb=78.0), rule)
    assert decision.status == "discard" and decision.reason.startswith("over the VRAM budget")
    assert decide(evidence(0.5, peak_memory_gb=22.9), rule).status == "keep"


def test_baseline_runs_until_it_has_its_runs_then_is_kept_at_their_mean():
    first = decide(Evidence(candidate=(1.0,), kept=(), baseline=True), SPRT)
    assert (first.status, first.confirm_kept) == ("confirm", False)
    done = decide(Evidence(candidate=(1.0, 1.02, 0.98), kept=(), baseline=True, confirmations=2), SPRT)
    assert (done.status, done.val_bpb) == ("keep", pytest.approx(1.0))


def test_a_crash_is_a_crash_at_any_run_of_the_change():
    assert decide(evidence(crash="run ended with status timeout"), SPRT).status == "crash"
    assert decide(evidence(0.95, crash="run ended with status crash"), SPRT).status == "crash"


def test_clear_gain_shrinks_as_the_kept_state_is_measured_more():
    test = SequentialTest()
    assert test.clear_gain(0.01, 1) > test.clear_gain(0.01, 3) > test.clear_gain(0.01, 30) > 0.02
    assert test.clear_gain(0.0, 3) == 0.0


def test_false_keeps_stay_under_alpha_for_changes_with_no_gain():
    """Many changes with no real gain, judged with confirmation runs drawn from the same noise."""
    rng, keeps, trials = random.Random(11), 0, 4000
    for _ in range(trials):
        kept, candidate = [rng.gauss(1.0, SIGMA) for _ in range(3)], [rng.gauss(1.0, SIGMA)]
        while (decision := decide(evidence(*candidate, kept=tuple(kept), confirmations=len(candidate) + len(kept) - 4), SPRT)).status == "confirm":
            (kept if decision.confirm_kept else candidate).append(rng.gauss(1.0, SIGMA))
        keeps += decision.status == "keep"
    assert keeps / trials <= SPRT.test.alpha * 2


def test_real_gains_above_three_sigma_are_kept_nearly_always():
    rng, keeps, trials = random.Random(5), 0, 2000
    for _ in range(trials):
        kept, candidate = [rng.gauss(1.0, SIGMA) for _ in range(3)], [rng.gauss(1.0 - 3.5 * SIGMA, SIGMA)]
        while (decision := decide(evidence(*candidate, kept=tuple(kept), confirmations=len(candidate) + len(kept) - 4), SPRT)).status == "confirm":
            (kept if decision.confirm_kept else candidate).append(rng.gauss(1.0 - 3.5 * SIGMA * (not decision.confirm_kept), SIGMA))
        keeps += decision.status == "keep"
    assert keeps / trials >= 0.9


# the greedy rule, kept for comparison

def test_greedy_keeps_below_the_best_draw_and_discards_a_tie():
    assert decide(Evidence(candidate=(0.95,), kept=(), best_draw=1.0), GREEDY).status == "keep"
    assert decide(Evidence(candidate=(1.0,), kept=(), best_draw=1.0), GREEDY).status == "discard"


def test_memory_is_peak_vram_in_gigabytes_to_one_decimal():
    assert memory_gb({"peak_vram_mb": 45060.2}) == 44.0
    assert memory_gb({"peak_vram_mb": "n/a"}) == 0.0
    assert memory_gb({}) == 0.0


def test_the_assumed_noise_is_an_upper_bound_that_shrinks_toward_the_estimate_as_repeats_accumulate():
    from services.evaluator.noise import cautious_sigma

    bounds = [cautious_sigma(0.01, k) for k in (2, 5, 30, 300)]
    assert bounds == sorted(bounds, reverse=True) and bounds[0] > 0.018 and 0.01 < bounds[-1] < 0.0103


def test_with_only_the_baseline_s_repeats_few_changes_with_no_gain_are_kept():
    """σ̂ from three runs is often far too small; the rule's upper bound keeps that from becoming false keeps."""
    from services.evaluator.noise import cautious_sigma, pooled_noise

    def false_keep_rate(cautious: bool) -> float:
        rng, keeps, trials = random.Random(2), 0, 1500
        for _ in range(trials):
            kept, candidate = [rng.gauss(1.0, SIGMA) for _ in range(3)], [rng.gauss(1.0, SIGMA)]
            while True:
                noise = pooled_noise([kept, candidate])
                sigma = cautious_sigma(*noise) if cautious else noise[0]
                judged = evidence(*candidate, kept=tuple(kept), sigma=sigma, confirmations=len(candidate) + len(kept) - 4)
                if (decision := decide(judged, SPRT)).status != "confirm":
                    break
                (kept if decision.confirm_kept else candidate).append(rng.gauss(1.0, SIGMA))
            keeps += decision.status == "keep"
        return keeps / trials

    assert false_keep_rate(cautious=True) <= 0.03 < false_keep_rate(cautious=False)
