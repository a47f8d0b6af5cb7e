"""The campaign's past as a proposer needs it: one record per experiment, built from events."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.events import (
    CommitMade, Edit, Event, ProposalCreated, ProposalRejected, RunFinished, VerdictDecided,
)

SUBJECTS = ["proposal.created", "proposal.rejected", "commit.made", "run.finished", "verdict.decided"]


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

    @property
    def settled(self) -> bool:
        """True once the experiment was decided or rejected."""
        return self.status != "pending"


def build_history(events: list[Event]) -> list[ExperimentRecord]:
    """Fold a campaign's events into experiment records, in the order they began."""
    records: dict[str, ExperimentRecord] = {}
    for event in events:
        record = records.setdefault(event.experiment_id, ExperimentRecord(event.experiment_id))
        if isinstance(event, ProposalCreated):
            record.description, record.base_commit = event.description, event.base_commit
            record.edits, record.proposer_kind = list(event.edits), event.proposer_kind
        elif isinstance(event, ProposalRejected):
            record.status, record.reason = "rejected", event.reason
            record.description = record.description or event.description
        elif isinstance(event, CommitMade):
            record.commit = event.commit
        elif isinstance(event, RunFinished):
            record.commit, record.log_tail, record.baseline = event.commit, event.log_tail, event.baseline
            record.description = record.description or event.description
        elif isinstance(event, VerdictDecided):
            record.status, record.val_bpb, record.memory_gb = event.status, event.val_bpb, event.memory_gb
            record.reason = event.reason
    return [record for record in records.values() if record.description or record.baseline]
