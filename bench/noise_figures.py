"""The noise benchmark's figures: what each verdict did against the known truth, per campaign and per noise and rule."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from shared.events import ConfirmationRequested, Event, RunFinished, VerdictDecided

TRUE_METRIC = "true_val_bpb"
BANDS = ((2.0, 3.0), (3.0, 5.0), (5.0, math.inf))  # a real gain's size, in σ


def band_name(low: float, high: float) -> str:
    """'2-3σ', '>5σ'."""
    return f">{low:g}σ" if math.isinf(high) else f"{low:g}-{high:g}σ"


@dataclass
class CampaignFigures:
    """One campaign's verdicts held against the truth."""

    sigma: float
    rule: str
    runs: int = 0
    experiments: int = 0  # with at least one run, the baseline included
    decided: int = 0  # beyond the baseline
    undecided: int = 0  # still waiting for confirmation runs when the budget ran out
    confirmations: int = 0
    keeps: int = 0
    false_keeps: int = 0
    baseline_true: float | None = None
    final_true: float | None = None
    reported_best: float | None = None
    lowest_gap: float | None = None  # the lowest any verdict's best_after sat below the true value of its head
    gains: list[tuple[float, bool]] = field(default_factory=list)  # (true gain over the kept state, kept?) per change
    ended: str = ""  # why the campaign stopped: its budget spent, or what cut it short
    wall: float = 0.0

    @property
    def extra_runs(self) -> int:
        """Runs beyond one per experiment."""
        return self.runs - self.experiments

    @property
    def reported_minus_true(self) -> float | None:
        """How far the campaign's reported best sits from the true value of its branch tip."""
        if self.reported_best is None or self.final_true is None:
            return None
        return self.reported_best - self.final_true


def true_value(run: RunFinished) -> float | None:
    """The true val_bpb the synthetic train.py printed beside its noisy one."""
    value = run.metrics.get(TRUE_METRIC)
    return value if isinstance(value, float) else None


def campaign_figures(events: Iterable[Event], sigma: float, rule: str) -> CampaignFigures:
    """Walk one campaign's record in order: every keep against the true value of the state it replaced."""
    figures = CampaignFigures(sigma, rule)
    truth: dict[str, float] = {}
    ran: set[str] = set()
    judged: set[str] = set()
    tip_true: float | None = None
    for event in events:
        if isinstance(event, RunFinished):
            figures.runs += 1
            ran.add(event.experiment_id)
            if (value := true_value(event)) is not None:
                truth[event.commit] = value
        elif isinstance(event, ConfirmationRequested):
            figures.confirmations += 1
        elif isinstance(event, VerdictDecided):
            judged.add(event.experiment_id)
            figures.reported_best = event.best_after if event.best_after is not None else figures.reported_best
            if event.baseline:
                tip_true = figures.baseline_true = truth.get(event.head)
                figures.lowest_gap = lowest(figures.lowest_gap, event.best_after, tip_true)
                continue
            figures.decided += 1
            candidate = truth.get(event.commit)
            kept = event.status == "keep"
            if kept:
                figures.keeps += 1
                figures.false_keeps += int(candidate is None or tip_true is None or candidate >= tip_true)
            if candidate is not None and tip_true is not None:
                figures.gains.append((tip_true - candidate, kept))
            tip_true = truth.get(event.head, tip_true)
            figures.lowest_gap = lowest(figures.lowest_gap, event.best_after, tip_true)
    figures.experiments = len(ran)
    figures.undecided = len(ran - judged)
    figures.final_true = tip_true
    return figures


def lowest(so_far: float | None, reported: float | None, truth: float | None) -> float | None:
    """The lower of so_far and reported minus truth, where both are known."""
    if reported is None or truth is None:
        return so_far
    return reported - truth if so_far is None else min(so_far, reported - truth)


def kept_share(gains: Iterable[tuple[float, bool]], low: float, high: float) -> tuple[int, int]:
    """(kept, all) among the changes whose true gain lies in [low, high)."""
    inside = [kept for gain, kept in gains if low <= gain < high]
    return sum(inside), len(inside)


@dataclass
class RowFigures:
    """Several campaigns of one noise level and one rule, added up."""

    sigma: float
    rule: str
    campaigns: list[CampaignFigures]

    def bands(self) -> dict[str, tuple[int, int]]:
        """(kept, all) per band of true gain in σ; without noise, one band of every real gain."""
        gains = [gain for campaign in self.campaigns for gain in campaign.gains]
        if self.sigma == 0:
            return {">0": kept_share(gains, 1e-9, math.inf)}
        return {band_name(low, high): kept_share(gains, low * self.sigma, high * self.sigma) for low, high in BANDS}

    def above(self, size: float) -> tuple[int, int]:
        """(kept, all) among the changes whose true gain is above size σ (any real gain without noise)."""
        gains = [gain for campaign in self.campaigns for gain in campaign.gains]
        return kept_share(gains, max(size * self.sigma, 1e-9), math.inf)

    def known(self, name: str) -> list:
        """A figure of every campaign that has it."""
        return [value for campaign in self.campaigns if (value := getattr(campaign, name)) is not None]

    def total(self, name: str) -> int:
        return sum(self.known(name))

    def mean(self, name: str) -> float | None:
        values = self.known(name)
        return sum(values) / len(values) if values else None

    def lowest(self, name: str) -> float | None:
        return min(self.known(name), default=None)

    def as_json(self) -> dict:
        """Every figure of the row, and each campaign's, for --json."""
        return {
            "sigma": self.sigma, "rule": self.rule, "keeps": self.total("keeps"), "false_keeps": self.total("false_keeps"),
            "bands": {name: {"kept": kept, "of": of} for name, (kept, of) in self.bands().items()},
            "final_true_mean": self.mean("final_true"), "reported_minus_true_mean": self.mean("reported_minus_true"),
            "lowest_gap": self.lowest("lowest_gap"),
            "extra_runs_mean": self.mean("extra_runs"), "extra_runs_max": max(self.known("extra_runs"), default=None),
            "campaigns": [{**asdict(c), "extra_runs": c.extra_runs, "reported_minus_true": c.reported_minus_true}
                          for c in self.campaigns],
        }
