"""Where a campaign stands, as the trainer sees it: tickets, runs, verdicts, the lookahead bound."""

from __future__ import annotations

from dataclasses import dataclass, field

from services.trainer.provenance import REASON_METRIC
from shared.ids import experiment_id
from shared.events import (
    CampaignFinished,
    CampaignLimited,
    CampaignStarted,
    Event,
    ProposalExhausted,
    ProposalRejected,
    ProposalRequested,
    RunFinished,
    VerdictDecided,
)


@dataclass
class CampaignProgress:
    """Counters rebuilt from the event stream, so a restarted trainer resumes exactly."""

    campaign: str
    lookahead: int = 1
    limit: int | None = None
    started: CampaignStarted | None = None
    tickets: int = 0
    baseline_run: bool = False
    baseline_decided: bool = False
    baseline_kept: bool = False  # no ticket goes out before: nothing is proposed on a baseline that failed
    baseline_verdict: str | None = None  # the evaluator's reason, when the baseline's verdict was not a keep
    baseline_crash: RunFinished | None = None  # the baseline's first failed run
    failure_told: set[str] = field(default_factory=set)  # campaign.finished event ids published after the baseline failed
    finished_runs: set[tuple[str, str]] = field(default_factory=set)  # each experiment's first run of its commit
    repeats: set[tuple[str, str, int]] = field(default_factory=set)  # confirmation runs: experiment, commit, repeat
    exhausted: dict[str, str] = field(default_factory=dict)  # branch tips no proposer has a change left for -> why
    decided_experiments: set[str] = field(default_factory=set)
    rejected_experiments: set[str] = field(default_factory=set)
    awaiting_verdict: str | None = None
    announced: set[int] = field(default_factory=set)
    limit_session: str | None = None
    limits_set: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> None:
        """Fold one event into the counters; applying the same event twice changes nothing."""
        if event.campaign != self.campaign:
            return
        if isinstance(event, CampaignStarted):
            self.started = event
        elif isinstance(event, ProposalRequested):
            # tickets go out one after another, so a number beyond the next is not one this campaign issued
            if event.sequence <= self.tickets + 1 and event.experiment_id == experiment_id(self.campaign, event.sequence):
                self.tickets = max(self.tickets, event.sequence)
        elif isinstance(event, ProposalRejected):
            self.rejected_experiments.add(event.experiment_id)
        elif isinstance(event, ProposalExhausted):
            self.rejected_experiments.add(event.experiment_id)  # its ticket will never be answered: the slot is free
            self.exhausted.setdefault(event.base_commit, event.reason)
        elif isinstance(event, RunFinished):
            if event.repeat == 0 and not event.kept_state:
                self.finished_runs.add((event.experiment_id, event.commit))
            else:
                self.repeats.add((event.experiment_id, event.commit, event.repeat))
            self.baseline_run |= event.baseline
            if event.baseline and event.status != "ok" and self.baseline_crash is None:
                self.baseline_crash = event
            if event.experiment_id not in self.decided_experiments:
                self.awaiting_verdict = event.experiment_id
        elif isinstance(event, VerdictDecided) and event.experiment_id not in self.decided_experiments:
            self.decided_experiments.add(event.experiment_id)
            self.baseline_decided |= event.baseline
            if event.baseline:
                self.baseline_kept = event.status == "keep"
                self.baseline_verdict = None if self.baseline_kept else event.reason or f"its verdict was {event.status}"
            if self.awaiting_verdict == event.experiment_id:
                self.awaiting_verdict = None
        elif isinstance(event, CampaignFinished):
            self.announced.add(event.experiments)
            if self.baseline_verdict is not None:
                self.failure_told.add(event.event_id)
        elif isinstance(event, CampaignLimited) and event.event_id not in self.limits_set:
            self.limits_set.add(event.event_id)
            self.limit, self.limit_session = event.limit, event.session

    def limit_asked(self, max_experiments: int | None, session: str | None) -> int | None:
        """The absolute limit that settings ask for.

        max_experiments counts beyond the experiments decided when the session began, so a session that
        already set a limit keeps it (its trainer restarted); without a session it counts from the campaign's start.
        """
        if session is not None and session == self.limit_session:
            return self.limit
        if max_experiments is None:
            return None
        return max_experiments + (self.decided if session is not None else 0)

    def limit_changes(self, limit: int | None, session: str | None) -> bool:
        """True when the stream must record this limit: it differs from the last one, or a new session takes it over."""
        return limit != self.limit or (limit is not None and session != self.limit_session)

    def issued(self, experiment: str) -> bool:
        """True when the experiment is one of this campaign's tickets."""
        return any(experiment == experiment_id(self.campaign, n) for n in range(1, self.tickets + 1))

    def ran(self, experiment: str, commit: str) -> bool:
        """True when the commit ran as the experiment's change (or as the baseline)."""
        return (experiment, commit) in self.finished_runs

    @property
    def rejected(self) -> int:
        """Proposals the editor rejected: their tickets are free again."""
        return len(self.rejected_experiments)

    @property
    def decided(self) -> int:
        """Experiments decided beyond the baseline."""
        return len(self.decided_experiments) - int(self.baseline_decided)

    @property
    def outstanding(self) -> int:
        """Experiments between their ticket (or the baseline) and their verdict."""
        return self.tickets - self.rejected - self.decided + (0 if self.baseline_decided else 1)

    @property
    def baseline_failure(self) -> str | None:
        """Why the baseline failed (its run's crash_reason, else its verdict's reason); None unless it was not kept."""
        if self.baseline_verdict is None:
            return None
        said = self.baseline_crash.metrics.get(REASON_METRIC) if self.baseline_crash is not None else None
        return said if isinstance(said, str) and said else self.baseline_verdict

    def wants_ticket(self) -> bool:
        """True when one more proposal may be requested: the baseline was kept, within the lookahead and the limit."""
        within_limit = self.limit is None or self.tickets - self.rejected < self.limit
        return self.baseline_kept and within_limit and self.outstanding < 1 + self.lookahead

    def is_complete(self) -> bool:
        """True when the experiment limit has been reached and everything is decided."""
        return self.limit is not None and self.baseline_decided and self.decided >= self.limit and self.outstanding == 0

    def should_announce_failure(self, event_id: str) -> bool:
        """True when the baseline failed and this announcement of it (one per session) is not yet in the record."""
        return self.baseline_failure is not None and event_id not in self.failure_told

    def should_announce_finish(self) -> bool:
        """True when this session's limit is reached and not yet announced (a resumed campaign announces again)."""
        return self.is_complete() and self.decided not in self.announced
