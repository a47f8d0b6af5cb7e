"""The keep/discard policy: a pure function from the evidence of one experiment to a decision.

Three rules. "sprt" (the default) compares the mean of a change's runs with the mean of the kept state's
runs, knowing the campaign's noise: clearly better is kept and clearly worse discarded after one run,
in between it asks for confirmation runs as a sequential test (services/evaluator/noise.py). "bayes"
compares the same means, but weighs them against what the campaign's decided experiments say about its
changes (services/evaluator/bayes.py): it keeps once the chance that there is no gain is below its rate.
"greedy" is the rule of a single noisy draw against the best draw so far, kept for comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from services.evaluator.bayes import PastGain, fit_prior
from services.evaluator.noise import SequentialTest, mean
from shared.events import VerdictStatus

KeepRuleName = Literal["sprt", "bayes", "greedy"]
BAYES_WORTH = 0.5  # bayes: a change is run again while its expected gain is at least this share of a new change's


@dataclass(frozen=True)
class KeepRule:
    """How verdicts are decided: the rule, its run budget, its noise floor and the memory budget."""

    name: KeepRuleName = "sprt"
    baseline_runs: int = 3
    max_runs: int = 6  # runs of a change, and of the kept state, before the test decides on what it has
    noise_floor: float = 0.0
    vram_budget_gb: float | None = None
    test: SequentialTest = SequentialTest()
    false_keep_share: float = 0.02  # bayes: keep once the chance of no gain is at most this

    def sigma(self, estimate: float | None) -> float:
        """The noise the test uses: the pooled estimate, never below the floor."""
        return max(estimate or 0.0, self.noise_floor)


@dataclass(frozen=True)
class Evidence:
    """What is known when a run of an experiment has finished."""

    candidate: tuple[float, ...]  # val_bpb of the change's successful runs in this experiment
    kept: tuple[float, ...]  # val_bpb of every successful run of the kept state in the campaign
    baseline: bool = False
    crash: str | None = None  # why a run of the change failed, if one did
    peak_memory_gb: float = 0.0
    sigma_estimate: float | None = None  # pooled σ̂ of the campaign at its upper bound, None before any commit ran twice
    sigma_median: float | None = None  # the same σ̂ at its median: the bayes rule's prior already guards the keeps
    best_draw: float | None = None  # the greedy rule's bar: the best single val_bpb kept so far
    lines_added: int = 0
    lines_removed: int = 0
    confirmations: int = 0  # runs of this experiment beyond its first, crashed ones included
    history: tuple[PastGain, ...] = ()  # the campaign's decided experiments, oldest first: the bayes rule's prior


@dataclass(frozen=True)
class Decision:
    """A verdict, or a request for one more run (status 'confirm', of the change or of the kept state)."""

    status: VerdictStatus | Literal["confirm"]
    reason: str
    val_bpb: float | None = None
    sigma: float | None = None
    confirm_kept: bool = False


def memory_gb(metrics: dict[str, float | str]) -> float:
    """Peak memory in GB from the run's peak_vram_mb (0.0 when unknown)."""
    value = metrics.get("peak_vram_mb")
    return round(value / 1024, 1) if isinstance(value, float) and value > 0 else 0.0


def finite_val_bpb(metrics: dict[str, float | str]) -> float | None:
    """The run's val_bpb when it is a finite number."""
    value = metrics.get("val_bpb")
    return value if isinstance(value, float) and math.isfinite(value) else None


def decide(evidence: Evidence, rule: KeepRule) -> Decision:
    """Keep, discard, crash, or confirm: the one place a verdict is decided."""
    sigma = _assumed_sigma(evidence, rule)
    if evidence.crash is not None and not (evidence.baseline and evidence.candidate):
        return Decision("crash", evidence.crash, sigma=sigma)
    if not evidence.candidate:
        return Decision("crash", "reported no finite val_bpb", sigma=sigma)
    value = mean(evidence.candidate)
    if evidence.baseline:
        if len(evidence.candidate) < rule.baseline_runs and evidence.confirmations < 2 * rule.baseline_runs:
            return Decision("confirm", f"baseline run {len(evidence.candidate)} of {rule.baseline_runs}", value, sigma)
        return Decision("keep", _baseline_reason(evidence), value, sigma)
    budget = rule.vram_budget_gb
    if budget is not None and evidence.peak_memory_gb > budget:
        return Decision("discard", f"over the VRAM budget: {evidence.peak_memory_gb:.1f} GB > {budget:g} GB", value, sigma)
    if rule.name == "greedy":
        return _greedy(evidence, value, sigma)
    if rule.name == "bayes":
        return _bayes(evidence, rule, value, rule.sigma(sigma))
    return _sequential(evidence, rule, value, rule.sigma(sigma))


def _assumed_sigma(evidence: Evidence, rule: KeepRule) -> float | None:
    """The noise a rule works with: greedy none of its own, sprt σ̂'s upper bound, bayes its median."""
    if rule.name == "greedy":
        return evidence.sigma_estimate
    if rule.name == "bayes" and evidence.sigma_median is not None:
        return rule.sigma(evidence.sigma_median)
    return rule.sigma(evidence.sigma_estimate)


def _baseline_reason(evidence: Evidence) -> str:
    runs = len(evidence.candidate)
    if evidence.crash is not None:
        return f"baseline, mean of {runs} runs (a repeat {evidence.crash})"  # e.g. 'a repeat crashed: ...'
    return "baseline" if runs == 1 else f"baseline, mean of {runs} runs"


def _greedy(evidence: Evidence, value: float, sigma: float | None) -> Decision:
    best = evidence.best_draw
    if best is None or value < best:
        reason = "first successful run" if best is None else f"val_bpb {value:.6f} < best {best:.6f}"
        return Decision("keep", reason, value, sigma)
    return Decision("discard", f"val_bpb {value:.6f} >= best {best:.6f}", value, sigma)


def _sequential(evidence: Evidence, rule: KeepRule, value: float, sigma: float) -> Decision:
    if not evidence.kept:
        return Decision("keep", "first successful run", value, sigma)
    bar, n_c, n_k = mean(evidence.kept), len(evidence.candidate), len(evidence.kept)
    gain = bar - value
    simpler = evidence.lines_removed > evidence.lines_added
    runs = f"mean of {n_c} run{'s' * (n_c > 1)} vs the kept state's mean {bar:.6f} of {n_k}"
    if sigma == 0:
        return _without_noise(value, bar, simpler)
    test, size = rule.test, f"{gain / sigma:+.1f}σ̂"
    better = test.better(gain, sigma, n_c, n_k)
    if better >= test.upper:
        return Decision("keep", f"gain {gain:.6f} ({size}, σ̂={sigma:.6f}): {runs}", value, sigma)
    if simpler:
        not_worse = test.not_worse(gain, sigma, n_c, n_k)
        if not_worse >= test.upper:
            return Decision("keep", f"no worse, with less code (simplicity): gain {gain:.6f} ({size}); {runs}", value, sigma)
        if not_worse <= test.lower:
            return Decision("discard", f"worse ({size}, σ̂={sigma:.6f}), though simpler: {runs}", value, sigma)
    elif better <= test.lower:
        return Decision("discard", f"no real gain: {gain:.6f} ({size}, σ̂={sigma:.6f}); {runs}", value, sigma)
    more = _next_run(evidence, rule, n_c, n_k)
    if more is not None:
        which = "the kept state" if more else "the change"
        return Decision("confirm", f"gain {gain:.6f} ({size}) not yet decided: one more run of {which}", value, sigma, more)
    if better > 0:  # the run budget is spent: the likelier hypothesis wins (a truncated test's usual end)
        return Decision("keep", f"likelier a gain than none after {n_c} runs: gain {gain:.6f} ({size}); {runs}", value, sigma)
    if simpler and test.not_worse(gain, sigma, n_c, n_k) > 0:
        return Decision("keep", f"cannot be told apart after {n_c} runs, with less code (simplicity): {runs}", value, sigma)
    return Decision("discard", f"not shown better after {n_c} runs: gain {gain:.6f} ({size}); {runs}", value, sigma)


def _without_noise(value: float, bar: float, simpler: bool) -> Decision:
    """No measured noise: every difference is real, decided at once."""
    if value < bar:
        return Decision("keep", f"val_bpb {value:.6f} < {bar:.6f} (no measured noise)", value, 0.0)
    if value == bar and simpler:
        return Decision("keep", f"equal val_bpb {value:.6f} with less code (simplicity)", value, 0.0)
    return Decision("discard", f"val_bpb {value:.6f} >= {bar:.6f} (no measured noise)", value, 0.0)


def _bayes(evidence: Evidence, rule: KeepRule, value: float, sigma: float) -> Decision:
    if not evidence.kept:
        return Decision("keep", "first successful run", value, sigma)
    bar, n_c, n_k = mean(evidence.kept), len(evidence.candidate), len(evidence.kept)
    simpler = evidence.lines_removed > evidence.lines_added
    if sigma == 0:
        return _without_noise(value, bar, simpler)
    gain, variance = bar - value, sigma * sigma * (1 / n_c + 1 / n_k)
    prior = fit_prior(evidence.history, sigma, gain, variance)
    belief = prior.posterior(gain, variance)
    none, share = belief.at_most(0.0), rule.false_keep_share
    said = f"gain {gain:.6f} ({gain / sigma:+.1f}σ̂, σ̂={sigma:.6f}), P(no gain) {none:.3f}"
    runs = f"mean of {n_c} run{'s' * (n_c > 1)} vs the kept state's mean {bar:.6f} of {n_k}"
    if none <= share:
        return Decision("keep", f"{said} <= {share:g}: {runs}", value, sigma)
    if simpler and belief.at_most(-sigma) <= share:  # a change that removes code only has to be no worse by σ
        return Decision("keep", f"no worse, with less code (simplicity): {said}; {runs}", value, sigma)
    more = _next_run(evidence, rule, n_c, n_k)
    if more is None:
        return Decision("discard", f"not shown better after {n_c} runs: {said}; {runs}", value, sigma)
    if not _worth_a_run(belief.upside(), prior.upside(), 1 - none, rule):
        return Decision("discard", f"no likely gain worth another run: {said}; {runs}", value, sigma)
    which = "the kept state" if more else "the change"
    return Decision("confirm", f"{said}: not yet decided, one more run of {which}", value, sigma, more)


def _worth_a_run(upside: float, fresh: float, chance: float, rule: KeepRule) -> bool:
    """Whether one more run of this change is likely worth more than the first run of a new one."""
    return chance > rule.test.beta and upside >= fresh * BAYES_WORTH


def _next_run(evidence: Evidence, rule: KeepRule, n_c: int, n_k: int) -> bool | None:
    """Which one to run again (True: the kept state), or None when the run budget is spent."""
    if evidence.confirmations >= 2 * (rule.max_runs - 1):
        return None
    if n_k < n_c and n_k < rule.max_runs:
        return True
    if n_c < rule.max_runs:
        return False
    return True if n_k < rule.max_runs else None
