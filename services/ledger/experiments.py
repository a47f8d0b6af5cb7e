"""Folding a campaign's stored events into experiments, one event at a time: the read model behind the API."""

from __future__ import annotations

from datetime import datetime

from services.ledger.runs import apply_confirmation, apply_run_finished, apply_run_started, drop_unfinished_runs
from services.ledger.schemas import (
    DECIDED, CommitOut, ExperimentDetail, ProgressOut, ProposalOut, RunOut, SummaryOut, VerdictOut,
)
from services.ledger.store import EventStore
from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, ConfirmationRequested, Event, ProposalCreated, ProposalExhausted,
    ProposalRejected, RunFinished, RunProgress, RunStarted, VerdictDecided,
)

# run.progress is left out on purpose: a night holds thousands of step lines and only the latest matters.
VIEW_TYPES = (
    CampaignStarted, CampaignFinished, ProposalCreated, ProposalRejected, CommitMade, RunStarted, RunFinished,
    ConfirmationRequested, VerdictDecided, ProposalExhausted,
)
CAMPAIGN_EVENTS = (CampaignStarted, CampaignFinished, ProposalExhausted)  # of the campaign, not of an experiment


class CampaignView:
    """A campaign as the read API needs it, kept up to date one event at a time.

    The state after any prefix of the record is the record's fold (in store order) with the latest step line
    shown on the run it belongs to. Rendered rows are cached in `cache` by (kind, experiment) and dropped when
    their experiment changes, so a request costs what its page holds, not what the campaign holds.
    """

    def __init__(self, campaign: str) -> None:
        self.campaign = campaign
        self.experiments: list[ExperimentDetail] = []  # in order of first appearance
        self.by_id: dict[str, ExperimentDetail] = {}
        self.decided: list[ExperimentDetail] = []  # experiments with a verdict, in decision order (results.tsv's rows)
        self.progress: RunProgress | None = None
        self.first_at: datetime | None = None
        self.last_at: datetime | None = None
        self.latest_verdict: VerdictDecided | None = None
        self.latest_finish: CampaignFinished | None = None
        self.finished = False  # campaign.finished came after the last run started (a resumed campaign is open again)
        self.input_tokens = self.output_tokens = 0
        self.cost, self.priced = 0.0, False
        self.version = 0
        self.cache: dict[tuple[str, str], bytes] = {}
        self.summary_memo: tuple[int, SummaryOut] | None = None  # (version, summary), worked out on demand
        self.verdicts: dict[str, VerdictDecided] = {}  # each experiment's latest, at its first one's place
        self._shown: RunOut | None = None  # the run the latest step line is shown on

    @classmethod
    def load(cls, store: EventStore, campaign: str) -> CampaignView:
        """A campaign folded from the store: everything but the step lines, plus the latest step line."""
        view = cls(campaign)
        for event in store.events(campaign, VIEW_TYPES):
            view.apply(event)
        if (progress := store.latest(campaign, RunProgress)) is not None:
            view.apply(progress)
        return view

    def apply(self, event: Event) -> None:
        """Fold one more event in; a step line replaces the one shown, other types outside the view are ignored."""
        if isinstance(event, RunProgress):
            self._hide_progress()
            self.progress = event
            self._show_progress()
            self.version += 1
            return
        if not isinstance(event, VIEW_TYPES):
            return
        self.version += 1
        self._note_campaign_figures(event)
        if isinstance(event, CAMPAIGN_EVENTS):
            return
        self._hide_progress()
        row = self.by_id.get(event.experiment_id)
        if row is None:
            row = self.by_id[event.experiment_id] = ExperimentDetail(experiment_id=event.experiment_id, campaign=self.campaign)
            self.experiments.append(row)
        if isinstance(event, VerdictDecided) and row.number is None:
            row.number = len(self.decided)
            self.decided.append(row)
        apply_event(row, event)
        for kind in ("row", "point"):
            self.cache.pop((kind, row.experiment_id), None)
        self._show_progress()

    def _note_campaign_figures(self, event: Event) -> None:
        """What the summary needs beyond the experiments: the time span, the latest verdict and finish, spending."""
        self.first_at = event.occurred_at if self.first_at is None else min(self.first_at, event.occurred_at)
        self.last_at = event.occurred_at if self.last_at is None else max(self.last_at, event.occurred_at)
        if isinstance(event, CampaignFinished):
            self.finished, self.latest_finish = True, event
        elif isinstance(event, RunStarted):
            self.finished = False
        elif isinstance(event, VerdictDecided):
            self.latest_verdict = self.verdicts[event.experiment_id] = event
        elif isinstance(event, ProposalCreated):
            self.input_tokens += event.input_tokens or 0
            self.output_tokens += event.output_tokens or 0
            if event.cost is not None:
                self.cost, self.priced = self.cost + event.cost, True

    def _hide_progress(self) -> None:
        if self._shown is not None:
            self._shown.progress, self._shown = None, None

    def _show_progress(self) -> None:
        if self.progress is not None:
            self._shown = attach_progress(self.by_id.get(self.progress.experiment_id), self.progress)


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


def attach_progress(row: ExperimentDetail | None, progress: RunProgress) -> RunOut | None:
    """Show the latest step line on the run it belongs to, while that run is still going; that run, or None."""
    going = next((run for run in reversed(row.all_runs) if run.status == "running"), None) if row else None
    if going is None or going.commit != progress.commit:
        return None
    going.progress = ProgressOut(step=progress.step, percent=progress.percent, loss=progress.loss, at=progress.occurred_at)
    return going
