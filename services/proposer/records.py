"""The campaign's past as a proposer needs it: one record per experiment, built from events."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.events import (
    CommitMade, ConfirmationRequested, Edit, Event, ProposalCreated, ProposalRejected, RunFinished, RunProgress,
    VerdictDecided,
)

RECORD_KINDS: list[type[Event]] = [
    ProposalCreated, ProposalRejected, CommitMade, RunFinished, ConfirmationRequested, VerdictDecided,
]
# run.progress is chatty (a point every few seconds of every run) and lives in its own stream;
# only proposers that read loss curves follow it.
PROGRESS_KINDS: list[type[Event]] = [RunProgress]


@dataclass
class ExperimentRecord:
    """One experiment's story: what was proposed, from where, and how it ended."""

    experiment_id: str
    description: str = ""
    base_commit: str = ""
    edits: list[Edit] = field(default_factory=list)
    proposer_kind: str = ""
    commit: str | None = None
    status: str = "pending"
    val_bpb: float | None = None
    memory_gb: float = 0.0
    reason: str = ""
    log_tail: str = ""
    baseline: bool = False
    rationale: str = ""
    kind: str = "change"
    proposer: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = None
    run_status: str | None = None
    metrics: dict[str, float | str] = field(default_factory=dict)
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    runs: int = 0  # runs of the experiment's commit behind val_bpb, which is their mean
    confirmations: int = 0  # runs beyond the first that its verdict took
    confirming: bool = False  # the evaluator asked for runs again before deciding
    sigma: float | None = None  # the campaign's noise estimate its verdict used
    clear_gain: float | None = None  # how far below best_after the next single run had to land to be kept at once
    best_after: float | None = None  # the kept state's mean after its verdict
    decided_at: datetime | None = None

    @property
    def proposed(self) -> bool:
        """True once a proposer answered the experiment's ticket."""
        return bool(self.proposer_kind)

    @property
    def settled(self) -> bool:
        """True once the experiment was decided or rejected."""
        return self.status != "pending"


def _fold_proposal(record: ExperimentRecord, event: ProposalCreated) -> None:
    record.description, record.base_commit = event.description, event.base_commit
    record.edits, record.proposer_kind = list(event.edits), event.proposer_kind
    record.rationale, record.kind, record.proposer, record.model = event.rationale, event.kind, event.proposer, event.model
    record.input_tokens, record.output_tokens = event.input_tokens or 0, event.output_tokens or 0
    record.cost = event.cost


def _fold_progress(record: ExperimentRecord, event: RunProgress) -> None:
    if event.loss is None or record.commit not in (None, event.commit):
        return  # a re-measure of the kept state trains another commit under this experiment's id
    if record.loss_curve and event.step <= record.loss_curve[-1][0]:
        record.loss_curve.clear()  # the run started over (a trainer restart); keep only the newest curve
    record.loss_curve.append((event.step, event.loss))


def _fold_run(record: ExperimentRecord, event: RunFinished) -> None:
    if event.kept_state:
        return  # a re-measure of the branch tip: it moves the bar, the verdict says by how much; it is not this change
    record.commit, record.log_tail, record.baseline = event.commit, event.log_tail, record.baseline or event.baseline
    record.description = record.description or event.description
    record.run_status, record.metrics = event.status, dict(event.metrics)


def _fold_verdict(record: ExperimentRecord, event: VerdictDecided) -> None:
    record.status, record.val_bpb, record.memory_gb = event.status, event.val_bpb, event.memory_gb
    record.reason, record.commit, record.baseline = event.reason, event.commit, record.baseline or event.baseline
    record.runs, record.confirmations, record.decided_at = event.runs, event.confirmations, event.occurred_at
    record.sigma, record.clear_gain, record.best_after = event.sigma, event.clear_gain, event.best_after


def _fold(record: ExperimentRecord, event: Event) -> None:
    """Fold one event into its experiment's record; a redelivered event leaves the same record."""
    if isinstance(event, ProposalCreated):
        _fold_proposal(record, event)
    elif isinstance(event, ProposalRejected):
        record.status, record.reason = "rejected", event.reason
        record.description = record.description or event.description
    elif isinstance(event, CommitMade):  # re-applied on a newer tip: that tip is its base now
        record.commit, record.base_commit = event.commit, event.parent
    elif isinstance(event, RunProgress):
        _fold_progress(record, event)
    elif isinstance(event, RunFinished):
        _fold_run(record, event)
    elif isinstance(event, ConfirmationRequested):
        record.confirming = True
    elif isinstance(event, VerdictDecided):
        _fold_verdict(record, event)


class CampaignRecords:
    """A campaign's experiment records, kept up to date one event at a time."""

    def __init__(self) -> None:
        self._records: dict[str, ExperimentRecord] = {}
        # Copies handed to researchers, kept until their record changes: a ticket copies only what moved since
        # the last one, so answering it costs the same at 20 experiments as at 500.
        self._copies: dict[str, ExperimentRecord] = {}

    def apply(self, event: Event) -> None:
        """Fold one event in."""
        record = self._records.setdefault(event.experiment_id, ExperimentRecord(event.experiment_id))
        _fold(record, event)
        self._copies.pop(event.experiment_id, None)

    def baseline_decided(self) -> bool:
        """True once the evaluator decided the campaign's baseline (kept it, or found it crashed)."""
        return any(record.baseline and record.settled for record in self._records.values())

    def get(self, experiment_id: str) -> ExperimentRecord | None:
        """The record of one experiment, if any event of it was seen."""
        return self._records.get(experiment_id)

    def records(self) -> list[ExperimentRecord]:
        """Experiments in the order they began, leaving out those with nothing to tell yet."""
        # copies: a researcher may think for minutes while later events are folded in
        return [self._copy(record) for record in self._records.values() if record.description or record.baseline]

    def _copy(self, record: ExperimentRecord) -> ExperimentRecord:
        copy = self._copies.get(record.experiment_id)
        if copy is None:
            copy = replace(record, edits=list(record.edits), metrics=dict(record.metrics), loss_curve=list(record.loss_curve))
            self._copies[record.experiment_id] = copy
        return copy


def in_flight(history: list[ExperimentRecord], experiment_id: str | None = None) -> list[ExperimentRecord]:
    """Experiments proposed but not yet decided or rejected (other than experiment_id): their edits may still land."""
    return [r for r in history if r.proposed and not r.settled and not r.baseline and r.experiment_id != experiment_id]


def fold_records(events: list[Event]) -> list[ExperimentRecord]:
    """Fold a campaign's events into experiment records, in the order they began."""
    records = CampaignRecords()
    for event in events:
        records.apply(event)
    return records.records()
