"""The empirical-Bayes keep rule's prior: what the campaign's decided experiments say about the gains of its changes.

Each decided experiment measured a gain (the bar it faced minus its mean) with a known sampling variance
σ²(1/runs + 1/kept runs). Together they estimate how true gains are spread among the campaign's proposals:
a distribution on a grid of gains, fitted by EM (Efron's g-modeling, no shape assumed, so a few large gains
among many small ones are represented as they are). Recent experiments weigh more, because a campaign's
proposals change as it nears an optimum, and a weak default (as likely no effect as some effect) holds the
place of the first experiments. A candidate's posterior on the same grid then says how likely it is that
its true gain is no gain at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

GRID = 80  # points of the grid of true gains, 0 among them
HALF_LIFE = 10.0  # decided experiments: an experiment this many verdicts old weighs half as much
PSEUDO = 2.0  # the weak default weighs as much as this many experiments
ITERATIONS = 60
SPREAD = 4.0  # the grid reaches this many standard errors beyond every measured gain
RECENT = 40  # decided experiments fitted; older ones would weigh less than a sixteenth


@dataclass(frozen=True)
class PastGain:
    """A decided experiment's measured gain over the bar it faced, and the runs behind each side."""

    gain: float
    runs: int
    kept_runs: int

    def variance(self, sigma: float) -> float:
        """The sampling variance of the measured gain."""
        return sigma * sigma * (1 / self.runs + 1 / self.kept_runs)


@dataclass(frozen=True)
class Belief:
    """A distribution over true gains: weights on a grid of values."""

    values: tuple[float, ...]
    weights: tuple[float, ...]

    def at_most(self, gain: float) -> float:
        """Probability that the true gain is at most this."""
        return min(1.0, sum(w for v, w in zip(self.values, self.weights, strict=True) if v <= gain))

    def upside(self) -> float:
        """The expected positive part of the true gain: what keeping it would be worth, on average."""
        return sum(w * v for v, w in zip(self.values, self.weights, strict=True) if v > 0)

    def posterior(self, gain: float, variance: float) -> Belief:
        """The belief after measuring `gain` with this sampling variance."""
        return Belief(self.values, _normalized(_reweigh(self.values, self.weights, gain, variance)))


def grid(gains: Sequence[float], spread: float, sigma: float) -> tuple[float, ...]:
    """Evenly spaced true gains covering every measured gain by `spread`, with 0 exactly on it."""
    low = min(min(gains, default=0.0) - spread, -SPREAD * sigma)
    high = max(max(gains, default=0.0) + spread, SPREAD * sigma)
    step = (high - low) / (GRID - 1)
    values = sorted({round(low + i * step, 12) for i in range(GRID)} | {0.0})
    return tuple(values)


def default_belief(values: tuple[float, ...]) -> Belief:
    """The weak default: half on no effect, half spread evenly over the grid."""
    zero, rest = 0.5, 0.5 / len(values)
    return Belief(values, tuple(rest + (zero if v == 0.0 else 0.0) for v in values))


def fit_prior(history: Sequence[PastGain], sigma: float, candidate: float, candidate_variance: float) -> Belief:
    """The campaign's prior over true gains, on a grid that also covers the candidate's measured gain."""
    history = history[-RECENT:]
    spread = SPREAD * math.sqrt(max([candidate_variance, *(past.variance(sigma) for past in history)]))
    values = grid([candidate, *(past.gain for past in history)], spread, sigma)
    default = default_belief(values)
    if not history:
        return default
    ages = range(len(history) - 1, -1, -1)
    trust = [0.5 ** (age / HALF_LIFE) for age in ages]  # the latest verdict weighs 1
    total = sum(trust) + PSEUDO
    weights = default.weights
    for _ in range(ITERATIONS):
        mass = [PSEUDO * w for w in default.weights]
        for past, t in zip(history, trust, strict=True):
            share = _normalized(_reweigh(values, weights, past.gain, past.variance(sigma)))
            mass = [m + t * s for m, s in zip(mass, share, strict=True)]
        weights = tuple(m / total for m in mass)
    return Belief(values, weights)


def _reweigh(values: Sequence[float], weights: Sequence[float], gain: float, variance: float) -> list[float]:
    # computed in logs around the likeliest grid point, so a measurement far from every point underflows nothing
    logs = [-((gain - v) ** 2) / (2 * variance) for v in values]
    top = max(logs)
    return [w * math.exp(x - top) for w, x in zip(weights, logs, strict=True)]


def _normalized(weights: Sequence[float]) -> tuple[float, ...]:
    total = sum(weights)
    return tuple(w / total for w in weights)
