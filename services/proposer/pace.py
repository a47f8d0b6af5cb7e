"""Whether the proposers keep up with the trainer: think time against run time, and how many proposers that wants."""

from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from shared.events import Event, ProposalCreated, ProposalRequested, RunFinished

RECENT = 5  # experiments the medians look back over: recent enough to follow a model that slows down
MIN_THINKS = 2  # proposals timed before the rule says anything
MIN_RUNS = 1


@dataclass(frozen=True)
class Pace:
    """Median think time (ticket to proposal) and run time over the recent experiments, in seconds."""

    think_s: float
    run_s: float
    proposers: int

    @property
    def bottleneck(self) -> bool:
        """True when proposals arrive slower than runs finish: the trainer waits for the proposers."""
        # Proposers think side by side, so proposals come every think_s / proposers seconds; runs every run_s.
        return self.think_s > self.run_s * self.proposers

    def needed(self) -> int:
        """Proposers that would think of proposals as fast as the trainer runs them."""
        return max(1, math.ceil(self.think_s / self.run_s)) if self.run_s > 0 else self.proposers


def proposers_wanted(pace: Pace | None, bound: int) -> int:
    """How many proposers to run now: one more while they are the bottleneck, never more than bound."""
    if pace is None or not pace.bottleneck:
        return pace.proposers if pace is not None else 1
    return max(pace.proposers, min(pace.proposers + 1, bound))


def advice(pace: Pace, lookahead: int) -> str:
    """The bottleneck in one line, with what to change."""
    plural = "s" if pace.proposers > 1 else ""
    # Tickets bound the proposals thought of at once: more proposers than 1 + lookahead would sit idle.
    more = max(pace.needed(), pace.proposers + 1)
    hint = f"--proposers {more}" + (f" --lookahead {more - 1}" if more > 1 + lookahead else "")
    return (f"proposers are the bottleneck: a proposal takes {pace.think_s:.1f} s (median of the last {RECENT}), "
            f"a run {pace.run_s:.1f} s, with {pace.proposers} proposer{plural}; try {hint} or --proposers auto")


@dataclass
class PaceWatch:
    """Think and run times folded from a campaign's events as `up` sees them."""

    proposers: int = 1
    tickets: dict[str, datetime] = field(default_factory=dict)
    thinks: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    runs: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    seen: set[str] = field(default_factory=set)

    def observe(self, event: Event) -> None:
        """Fold one event in; one published twice is counted once."""
        if event.event_id in self.seen:
            return
        self.seen.add(event.event_id)
        if isinstance(event, ProposalRequested):
            self.tickets.setdefault(event.experiment_id, event.occurred_at)
        elif isinstance(event, ProposalCreated) and (asked := self.tickets.pop(event.experiment_id, None)) is not None:
            self.thinks.append(max((event.occurred_at - asked).total_seconds(), 0.0))
        elif isinstance(event, RunFinished) and not event.kept_state:
            self.runs.append(max((event.finished_at - event.started_at).total_seconds(), 0.0))

    def pace(self) -> Pace | None:
        """The recent medians, or None until enough experiments were timed."""
        if len(self.thinks) < MIN_THINKS or len(self.runs) < MIN_RUNS:
            return None
        return Pace(statistics.median(self.thinks), statistics.median(self.runs), self.proposers)

    def added(self) -> None:
        """A proposer was started: what was timed before it no longer says how fast proposals come."""
        self.proposers += 1
        self.thinks.clear()
