"""Folding a campaign's stored events into experiments: the read model behind the API."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from services.ledger.runs import apply_confirmation, apply_run_finished, apply_run_started, drop_unfinished_runs
from services.ledger.schemas import DECIDED, CommitOut, ExperimentDetail, ProgressOut, ProposalOut, VerdictOut
from services.ledger.store import EventStore
from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, ConfirmationRequested, Event, ProposalCreated, ProposalExhausted,
    ProposalRejected, RunFinished, RunProgress, RunStarted, VerdictDecided,
)

# run.progress is left out on purpose: a night holds thousands of step lines and only the latest matters.
VIEW_TYPES = [
    CampaignStarted, CampaignFinished, ProposalCreated, ProposalRejected, CommitMade, RunStarted, RunFinished,
    ConfirmationRequested, VerdictDecided, ProposalExhausted,
]
CAMPAIGN_EVENTS = (CampaignStarted, CampaignFinished, ProposalExhausted)  # of the campaign, not of an experiment


@dataclass
class CampaignView:
    """A campaign's events as the read API needs them, loaded once per request."""

    campaign: str
    events: list[Event]
    progress: RunProgress | None = None

    @classmethod
    def load(cls, store: EventStore, campaign: str) -> CampaignView:
        """Everything but the step lines, plus the latest step line."""
        progress = store.latest(campaign, RunProgress)
        return cls(campaign, store.events(campaign, VIEW_TYPES), progress if isinstance(progress, RunProgress) else None)

    @cached_property
    def experiments(self) -> list[ExperimentDetail]:
        """One record per experiment, in order of first appearance (folded once, then shared)."""
        rows: dict[str, ExperimentDetail] = {}
        decided = 0
        for event in self.events:
            if isinstance(event, CAMPAIGN_EVENTS):
                continue
            row = rows.get(event.experiment_id)
            if row is None:
                row = rows[event.experiment_id] = ExperimentDetail(experiment_id=event.experiment_id, campaign=self.campaign)
            if isinstance(event, VerdictDecided) and row.number is None:
                row.number, decided = decided, decided + 1
            apply_event(row, event)
        if self.progress is not None:
            attach_progress(rows.get(self.progress.experiment_id), self.progress)
        return list(rows.values())

    @cached_property
    def decided(self) -> list[ExperimentDetail]:
        """Experiments with a verdict, in decision order (the rows of results.tsv)."""
        return sorted((row for row in self.experiments if row.number is not None), key=lambda row: row.number or 0)


def apply_event(row: ExperimentDetail, event: Event) -> None:
    """Fold one event into its experiment; later events of the same kind replace earlier ones."""
    if isinstance(event, ProposalCreated):
        row.description = event.description
        row.proposal = ProposalOut(
            description=event.description, rationale=event.rationale, expected_vram_impact=event.expected_vram_impact,
            base_commit=event.base_commit, proposer_kind=event.proposer_kind, kind=event.kind, proposer=event.proposer,
            model=event.model, input_tokens=event.input_tokens, output_tokens=event.output_tokens,
            latency_s=event.latency_s, cost=event.cost,
            edits=[edit.model_dump() for edit in event.edits], proposed_at=event.occurred_at,
        )
    elif isinstance(event, ProposalRejected):
        row.rejection, row.description = event.reason, row.description or event.description
        row.status = row.status if row.status in DECIDED else "rejected"
    elif isinstance(event, CommitMade):
        row.commit, row.diff, row.description = event.commit, event.diff, row.description or event.description
        row.commit_made = CommitOut(
            commit=event.commit, parent=event.parent, message=event.message, diff=event.diff,
            lines_added=event.lines_added, lines_removed=event.lines_removed, rebased_from=event.rebased_from,
            committed_at=event.occurred_at,
        )
        row.status = "pending" if row.status == "rejected" else row.status
    elif isinstance(event, RunStarted):
        apply_run_started(row, event)
    elif isinstance(event, RunFinished):
        apply_run_finished(row, event)
    elif isinstance(event, ConfirmationRequested):
        apply_confirmation(row, event)
    elif isinstance(event, VerdictDecided):
        apply_verdict(row, event)


def apply_verdict(row: ExperimentDetail, event: VerdictDecided) -> None:
    """The verdict settles the experiment's status and figures: val_bpb is the mean of its change's runs."""
    row.status, row.val_bpb, row.memory_gb, row.reason = event.status, event.val_bpb, event.memory_gb, event.reason
    row.commit, row.description = event.commit, row.description or event.description or ("baseline" if event.baseline else "")
    row.verdict = VerdictOut(
        status=event.status, val_bpb=event.val_bpb, memory_gb=event.memory_gb, best_before=event.best_before,
        best_after=event.best_after, head=event.head, reason=event.reason, baseline=event.baseline,
        decided_at=event.occurred_at, sigma=event.sigma, runs=event.runs, kept_runs=event.kept_runs,
        confirmations=event.confirmations, clear_gain=event.clear_gain, keep_rule=event.keep_rule,
    )
    row.confirmation = None
    drop_unfinished_runs(row)
    if row.commit_made is not None and event.status != "keep" and row.run is not None and row.run.commit == event.commit:
        row.commit_made.kept_at_ref = row.run.discard_ref


def attach_progress(row: ExperimentDetail | None, progress: RunProgress) -> None:
    """Show the latest step line on the run it belongs to, while that run is still going."""
    going = next((run for run in reversed(row.all_runs) if run.status == "running"), None) if row else None
    if going is None or going.commit != progress.commit:
        return
    going.progress = ProgressOut(step=progress.step, percent=progress.percent, loss=progress.loss, at=progress.occurred_at)
