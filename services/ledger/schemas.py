"""Response models of the read API, kept apart from the bus contracts they are folded from."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

ExperimentStatus = Literal["pending", "running", "keep", "discard", "crash", "rejected"]
DECIDED: tuple[str, ...] = ("keep", "discard", "crash")


class ExperimentOut(BaseModel):
    """One experiment as a row of the experiments table."""

    experiment_id: str
    number: int | None = Field(default=None, description="Position in decision order (the results.tsv row, 0 = baseline).")
    commit: str | None = None
    description: str = ""
    status: ExperimentStatus = "pending"
    val_bpb: float | None = None
    memory_gb: float | None = None
    reason: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = Field(default=None, description="Seconds of training over every run of the experiment.")
    diff: str | None = None
    runs: int = Field(default=0, description="Runs of the experiment: its first, confirmation runs, re-runs of the kept state.")
    confirmations: int = Field(default=0, description="Runs beyond the first.")


class ExperimentPage(BaseModel):
    """A page of experiments."""

    campaign: str
    total: int = Field(description="Experiments matching the filter, across all pages.")
    offset: int
    limit: int
    items: list[ExperimentOut]


class ProposalOut(BaseModel):
    """What was proposed, and why."""

    description: str
    rationale: str = ""
    expected_vram_impact: str = ""
    base_commit: str
    proposer_kind: str = ""
    kind: str = "change"
    proposer: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    cost: float | None = None
    edits: list[dict[str, str]] = Field(default_factory=list)
    proposed_at: datetime


class CommitOut(BaseModel):
    """The commit the proposal became; the diff survives a discard here."""

    commit: str
    parent: str
    message: str
    diff: str
    lines_added: int
    lines_removed: int
    rebased_from: str | None = None
    committed_at: datetime
    kept_at_ref: str | None = Field(default=None, description="Where the trainer keeps a discarded or crashed commit (from run.finished).")


class ProgressOut(BaseModel):
    """The latest step line of a run in progress."""

    step: int
    percent: float | None = None
    loss: float | None = None
    at: datetime


class RunOut(BaseModel):
    """One training run: its metrics, log tail and where it ran."""

    commit: str
    status: str = Field(description="ok, crash, timeout; 'running' until run.finished arrives.")
    repeat: int = Field(default=0, description="0 for the commit's first run in the experiment, then 1, 2, ...")
    kept_state: bool = Field(default=False, description="A re-run of the kept state (the branch tip), not of the experiment's change.")
    val_bpb: float | None = Field(default=None, description="This run's own val_bpb, from its metrics.")
    memory_gb: float | None = Field(default=None, description="This run's peak_vram_mb in GB.")
    command: str = ""
    metrics: dict[str, float | str] = Field(default_factory=dict)
    log_tail: str = ""
    exit_code: int | None = None
    started_at: datetime
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    discard_ref: str | None = Field(default=None, description="Where the trainer keeps the commit if it is not kept.")
    progress: ProgressOut | None = None


class VerdictOut(BaseModel):
    """The evaluator's decision."""

    status: str
    val_bpb: float | None = None
    memory_gb: float = 0.0
    best_before: float | None = None
    best_after: float | None = None
    head: str
    reason: str = ""
    baseline: bool = False
    decided_at: datetime
    sigma: float | None = Field(default=None, description="The campaign's noise σ̂ the decision used.")
    runs: int = Field(default=1, description="Runs of the commit behind val_bpb, which is their mean.")
    kept_runs: int = Field(default=0, description="Runs of the kept state behind best_before.")
    confirmations: int = Field(default=0, description="Runs beyond the first that the experiment took.")
    clear_gain: float | None = None
    keep_rule: str = "greedy"


class ConfirmationOut(BaseModel):
    """One more run the evaluator asked for before it can decide."""

    commit: str
    repeat: int = Field(description="Which run of the commit it will be in the experiment (1 is the second).")
    kept_state: bool = False
    baseline: bool = Field(default=False, description="A run of the campaign's baseline.")
    description: str = ""
    sigma: float | None = None
    reason: str = ""
    requested_at: datetime


class ExperimentDetail(ExperimentOut):
    """One experiment in full: proposal, diff, run, verdict, environment."""

    campaign: str
    rejection: str | None = Field(default=None, description="Why the editor rejected the proposal, if it did.")
    proposal: ProposalOut | None = None
    commit_made: CommitOut | None = None
    run: RunOut | None = Field(default=None, description="The latest run of the experiment's own commit.")
    all_runs: list[RunOut] = Field(default_factory=list, description="Every run of the experiment, in the order they started.")
    confirmation: ConfirmationOut | None = Field(default=None, description="The run asked for and not yet finished, if any.")
    verdict: VerdictOut | None = None


class StatusCounts(BaseModel):
    """Experiments per outcome."""

    keep: int = 0
    discard: int = 0
    crash: int = 0
    rejected: int = 0


class RunningOut(BaseModel):
    """The experiment training right now."""

    experiment_id: str
    commit: str
    description: str
    started_at: datetime
    elapsed_seconds: float
    step: int | None = None
    percent: float | None = None
    loss: float | None = None
    repeat: int = Field(default=0, description="0 for the commit's first run in the experiment, then 1, 2, ...")
    kept_state: bool = Field(default=False, description="The run measures the kept state again.")
    run_number: int = Field(default=1, description="Which run of the experiment this is (2 is its first confirmation run).")


class ConfirmingOut(ConfirmationOut):
    """The experiment waiting on a confirmation run."""

    experiment_id: str
    run_number: int = Field(description="Which run of the experiment it will be (2 is its first confirmation run).")


class SummaryOut(BaseModel):
    """A campaign at a glance; docs/api.md gives the rule for each figure."""

    campaign: str
    baseline_val_bpb: float | None = None
    best_val_bpb: float | None = None
    best_commit: str | None = None
    best_description: str | None = None
    best_experiment_id: str | None = None
    improvement_percent: float | None = Field(default=None, description="(baseline - best) / baseline * 100.")
    counts: StatusCounts
    experiments_total: int = Field(description="Experiments decided (keep, discard, crash): the rows of results.tsv.")
    state: str = Field(default="waiting", description="finished, confirming, training or waiting; see docs/api.md.")
    running: RunningOut | None = None
    confirming: ConfirmingOut | None = Field(default=None, description="The latest confirmation run asked for and not finished.")
    sigma: float | None = Field(default=None, description="The campaign's noise σ̂, from the latest verdict.")
    keep_rule: str | None = Field(default=None, description="The rule of the latest verdict: 'sprt' or 'greedy'.")
    clear_gain: float | None = Field(default=None, description="From the latest verdict: the gain kept without confirmation.")
    runs_total: int = Field(default=0, description="Training runs finished, confirmation runs included.")
    confirmation_runs: int = Field(default=0, description="Finished runs beyond each experiment's first.")
    finish_reason: str | None = Field(default=None, description="Why the campaign ended, while it is finished.")
    started_at: datetime | None = None
    last_event_at: datetime | None = None
    finished: bool = False
    wall_seconds: float = 0.0
    training_seconds: float = 0.0
    idle_seconds: float = 0.0
    idle_share: float | None = Field(default=None, description="idle / (idle + training), from the first run's start.")
    keep_rate: float | None = Field(default=None, description="Kept / decided, experiments after the baseline.")
    trajectory: str = Field(default="starting", description="starting, improving, plateauing or stuck; see docs/api.md.")
    proposal_input_tokens: int = Field(default=0, description="Prompt tokens of every published proposal.")
    proposal_output_tokens: int = Field(default=0, description="Completion tokens of every published proposal.")
    proposal_cost: float | None = Field(default=None, description="Sum of the proposals' priced cost, when any was priced.")


class ProgressPoint(BaseModel):
    """One decided experiment on the progress chart."""

    number: int
    experiment_id: str
    commit: str
    status: str
    val_bpb: float | None = None
    best: float | None = Field(default=None, description="Running best after this experiment.")
    description: str = ""
    runs: int = Field(default=1, description="Runs of the change behind val_bpb, which is their mean.")


class ProgressOutline(BaseModel):
    """The progress chart's data."""

    campaign: str
    points: list[ProgressPoint]


class DashboardOut(BaseModel):
    """What the dashboard shows after each event, in one answer."""

    campaigns: list[str] = Field(description="Every campaign seen, oldest first.")
    summary: SummaryOut
    progress: ProgressOutline
    experiments: ExperimentPage = Field(description="The newest experiments first, as `order=desc`.")
