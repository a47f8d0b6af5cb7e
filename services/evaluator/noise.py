"""The campaign's noise: pooled from every commit that ran more than once, and what it asks of a change."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


CAUTION = 0.75  # the noise the rule assumes is this upper confidence bound on σ, not the point estimate
_Z = {0.5: 0.0, 0.75: 0.6745, 0.9: 1.2816, 0.95: 1.6449}


def pooled_noise(groups: Iterable[Sequence[float]]) -> tuple[float, int] | None:
    """Pooled standard deviation of repeated runs and its degrees of freedom; None with no commit run twice.

    Each commit contributes its squared deviations from its own mean and n - 1 degrees of freedom, so
    commits of different quality measure the same run-to-run noise without their gaps counting as noise.
    """
    squares, freedom = 0.0, 0
    for values in groups:
        if len(values) < 2:
            continue
        mean = sum(values) / len(values)
        squares += sum((value - mean) ** 2 for value in values)
        freedom += len(values) - 1
    return (math.sqrt(squares / freedom), freedom) if freedom else None


def cautious_sigma(sigma: float, freedom: int, confidence: float = CAUTION) -> float:
    """An upper confidence bound on σ from an estimate with `freedom` degrees of freedom.

    Three baseline runs give two degrees of freedom, and such an estimate falls below half the true σ one
    time in nine: a test trusting it would keep noise. σ̂·sqrt(k/χ²) with χ² the (1 − confidence) quantile
    of a chi-square with k degrees of freedom (Wilson–Hilferty) shrinks toward σ̂ as repeats accumulate.
    """
    k, z = freedom, _Z[confidence]
    quantile = k * (1 - 2 / (9 * k) - z * math.sqrt(2 / (9 * k))) ** 3
    return sigma * math.sqrt(k / quantile)


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean of a non-empty sequence."""
    return sum(values) / len(values)


@dataclass(frozen=True)
class SequentialTest:
    """A sequential probability ratio test on a mean gain: "gain ≤ 0" against "gain ≥ effect·σ".

    With the gain d (bar minus the candidate's mean) normal around its truth with variance
    s² = σ²(1/n_candidate + 1/n_kept), the log-likelihood ratio of gain = δ against gain = 0 is
    δ(d − δ/2)/s². Crossing log((1−β)/α) keeps, crossing log(β/(1−α)) discards, in between asks for
    another run: a change with no real gain is kept with probability at most α, one whose gain is δ is
    discarded with probability at most β (Wald's bounds, before truncation at the run limit).
    """

    alpha: float = 0.005
    beta: float = 0.05
    effect: float = 3.0

    @property
    def upper(self) -> float:
        """The log-likelihood ratio at which the larger gain is accepted."""
        return math.log((1 - self.beta) / self.alpha)

    @property
    def lower(self) -> float:
        """The log-likelihood ratio at which the smaller gain is accepted."""
        return math.log(self.beta / (1 - self.alpha))

    def variance(self, sigma: float, n_candidate: int, n_kept: int) -> float:
        """Variance of the difference between the two means."""
        return sigma * sigma * (1 / n_candidate + 1 / n_kept)

    def better(self, gain: float, sigma: float, n_candidate: int, n_kept: int) -> float:
        """Log-likelihood ratio of "gain = δ" against "gain = 0"."""
        delta = self.effect * sigma
        return delta * (gain - delta / 2) / self.variance(sigma, n_candidate, n_kept)

    def not_worse(self, gain: float, sigma: float, n_candidate: int, n_kept: int) -> float:
        """Log-likelihood ratio of "gain = 0" against "gain = −δ": how sure a simpler change costs nothing."""
        delta = self.effect * sigma
        return delta * (gain + delta / 2) / self.variance(sigma, n_candidate, n_kept)

    def clear_gain(self, sigma: float, n_kept: int) -> float:
        """The gain a single run of a next change needs over the bar to be kept without confirmation."""
        if sigma == 0:
            return 0.0
        delta = self.effect * sigma
        return self.upper * self.variance(sigma, 1, max(n_kept, 1)) / delta + delta / 2
