"""Event contracts: every message that crosses a service boundary, defined once.

Each event is one JSON object on the subject named by its ``type``. Models are
pure data: they validate, they do nothing else.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.edits import Edit  # noqa: F401 (a proposal's edits are part of its contract)
from shared.event_fields import (  # noqa: F401 (the bounds are part of this module's interface)
    COMMAND_MAX, DESCRIPTION_MAX, DIFF_MAX, EARLIEST, ENVIRONMENT_MAX, EVENT_ID_MAX, EXPERIMENT_PATTERN,
    HASH_PATTERN, LATEST, LOG_TAIL_MAX, MAX_PAYLOAD, MESSAGE_MAX, METRIC_NAME_MAX, METRIC_TEXT_MAX, METRICS_MAX,
    NAME_MAX, NO_CONTROL, NOTE_MAX, REF_MAX, REPEAT_MAX, SCHEMA_VERSION, TEXT_MAX, CAMPAIGN_PATTERN,
    Description, Edits, Environment, Metrics, Name, Ref, Timestamp,
)


def new_event_id() -> str:
    """Return a fresh unique event id."""
    return uuid.uuid4().hex


def utc_now() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: ClassVar[str] = ""  # set from the subclass's `type`: the one place a subject is spelled

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        kind = cls.model_fields.get("type")
        if kind is not None and isinstance(kind.default, str):
            cls.subject = kind.default

    event_id: str = Field(
        default_factory=new_event_id, min_length=1, max_length=EVENT_ID_MAX, pattern=NO_CONTROL,
        description="Unique id; also the Nats-Msg-Id header.",
    )
    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this contract.")
    campaign: str = Field(pattern=CAMPAIGN_PATTERN, description="Run tag; the branch is autoresearch/<campaign>.")
    experiment_id: str = Field(
        pattern=EXPERIMENT_PATTERN, description="Shared by the proposal, commit, run and verdict of one experiment: <campaign>-<NNNN>.",
    )
    occurred_at: Timestamp = Field(default_factory=utc_now, description="When it happened, UTC, between 2000 and 2100.")
    producer: Name = Field(description="service/instance that published it.")


class CampaignStarted(Event):
    """The trainer opened a campaign: branch created, base commit shipped."""

    type: Literal["campaign.started"] = "campaign.started"
    branch: Ref = Field(description="Campaign branch in the workspace.")
    base_commit: str = Field(pattern=HASH_PATTERN, description="Commit the campaign starts from.")
    bundle: Ref = Field(description="Object-store key of a git bundle holding the base history.")
    lookahead: int = Field(ge=0, description="Experiments prepared ahead of the one training.")


class ProposalRequested(Event):
    """Demand for one proposal: a ticket that exactly one proposer answers."""

    type: Literal["proposal.requested"] = "proposal.requested"
    base_commit: str = Field(pattern=HASH_PATTERN, description="Branch tip to propose from.")
    sequence: int = Field(ge=1, description="Ticket number within the campaign.")


class ProposalCreated(Event):
    """A proposer suggests one change to train.py."""

    type: Literal["proposal.created"] = "proposal.created"
    base_commit: str = Field(pattern=HASH_PATTERN, description="Commit the edits apply to.")
    description: str = Field(
        min_length=1, max_length=DESCRIPTION_MAX, pattern=NO_CONTROL,
        description="One line without tabs or control characters; goes into results.tsv and the commit message.",
    )
    rationale: str = Field(default="", max_length=TEXT_MAX, description="Why this change might help.")
    expected_vram_impact: str = Field(default="unknown", max_length=NOTE_MAX, description="Expected effect on peak memory.")
    edits: Edits = Field(description="Search/replace blocks on train.py, their texts within EDIT_TEXT_MAX together.")
    proposer_kind: str = Field(default="search", max_length=NAME_MAX, description="Which kind of proposer made it.")
    kind: Literal["change", "repair"] = Field(default="change", description="'repair' re-proposes a crashed idea with its bug fixed.")
    proposer: str | None = Field(default=None, max_length=NAME_MAX, description="Instance of the proposer that made it.")
    model: str | None = Field(default=None, max_length=NAME_MAX, description="Language model that drafted it, if any.")
    input_tokens: int | None = Field(default=None, ge=0, description="Prompt tokens spent on it, all tries together.")
    output_tokens: int | None = Field(default=None, ge=0, description="Completion tokens spent on it, all tries together.")
    latency_s: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Seconds spent waiting for the model.")
    cost: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Price of the tokens, from the proposer's configured prices.",
    )


class ProposalRejected(Event):
    """The editor could not turn a proposal into a commit."""

    type: Literal["proposal.rejected"] = "proposal.rejected"
    description: Description = Field(default="", description="The rejected proposal's description.")
    reason: str = Field(min_length=1, max_length=TEXT_MAX, description="Why it was rejected, for the proposer's next try.")
    base_commit: str = Field(default="", pattern=r"^([0-9a-f]{40})?$", description="Commit the edits were applied to.")


class CommitMade(Event):
    """The editor turned a proposal into a commit and shipped its git objects."""

    type: Literal["commit.made"] = "commit.made"
    commit: str = Field(pattern=HASH_PATTERN, description="Full hash.")
    parent: str = Field(pattern=HASH_PATTERN, description="Parent commit (the base).")
    message: str = Field(max_length=MESSAGE_MAX, description="Commit message: 'experiment: <description>'.")
    description: Description = Field(description="The proposal's one-line description.")
    diff: str = Field(max_length=DIFF_MAX, description="Unified diff against the parent.")
    lines_added: int = Field(ge=0)
    lines_removed: int = Field(ge=0)
    bundle: Ref = Field(description="Object-store key of a git bundle parent..commit.")
    rebased_from: str | None = Field(
        default=None, pattern=HASH_PATTERN,
        description="Earlier commit of this experiment, when re-applied onto a newer head.",
    )


class CommitStale(Event):
    """The trainer found a commit whose parent is no longer the branch tip."""

    type: Literal["commit.stale"] = "commit.stale"
    commit: str = Field(pattern=HASH_PATTERN)
    head: str = Field(pattern=HASH_PATTERN, description="Current branch tip to re-apply onto.")


class RunStarted(Event):
    """The trainer began a training run."""

    type: Literal["run.started"] = "run.started"
    commit: str = Field(pattern=HASH_PATTERN)
    description: Description = ""
    command: str = Field(max_length=COMMAND_MAX, description="The train command as run.")


class RunProgress(Event):
    """A step line from a run in progress."""

    type: Literal["run.progress"] = "run.progress"
    commit: str = Field(pattern=HASH_PATTERN)
    step: int = Field(ge=0)
    percent: float | None = None
    loss: float | None = None


RunStatus = Literal["ok", "crash", "timeout"]


class RunFinished(Event):
    """The trainer ran a commit to completion, a crash or a timeout."""

    type: Literal["run.finished"] = "run.finished"
    commit: str = Field(pattern=HASH_PATTERN)
    parent: str | None = Field(
        default=None, pattern=HASH_PATTERN, description="Branch tip the commit was run on top of; None for the baseline.",
    )
    description: Description = ""
    status: RunStatus
    metrics: Metrics = Field(default_factory=dict, description="Every key: value of the summary block; nan and inf as text.")
    log_tail: str = Field(default="", max_length=LOG_TAIL_MAX, description="Last 50 lines of the run log.")
    exit_code: int | None = None
    started_at: Timestamp
    finished_at: Timestamp
    baseline: bool = Field(default=False, description="True for the campaign's unchanged first run.")
    environment: Environment = Field(default_factory=dict, description="Host, torch version, device, command.")
    discard_ref: Ref | None = Field(
        default=None, description="Ref where the trainer keeps the commit if the branch is reset away from it; None for the baseline.",
    )
    repeat: int = Field(
        default=0, ge=0, le=REPEAT_MAX,
        description="0 for the first run of this commit in this experiment; 1, 2, ... for the confirmation runs asked for.",
    )
    kept_state: bool = Field(
        default=False, description="True when the run measured the kept state (the branch tip) again, not the experiment's change.",
    )


class ConfirmationRequested(Event):
    """The evaluator cannot yet tell a change from the kept state and asks for one more run of one of them."""

    type: Literal["confirmation.requested"] = "confirmation.requested"
    commit: str = Field(pattern=HASH_PATTERN, description="The commit to run again: the candidate or the kept state.")
    repeat: int = Field(ge=1, le=REPEAT_MAX, description="Which run of this commit in this experiment it will be (1 is the second).")
    kept_state: bool = Field(default=False, description="True when the commit is the kept state (the branch tip), not the candidate.")
    description: Description = Field(default="", description="The description of the commit to run.")
    baseline: bool = Field(default=False, description="True for a repeat of the campaign's baseline.")
    sigma: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="The campaign's noise estimate when asked.")
    reason: str = Field(default="", max_length=TEXT_MAX, description="Why one run more is needed.")


VerdictStatus = Literal["keep", "discard", "crash"]


class VerdictDecided(Event):
    """The evaluator kept or discarded a run."""

    type: Literal["verdict.decided"] = "verdict.decided"
    commit: str = Field(pattern=HASH_PATTERN)
    status: VerdictStatus
    val_bpb: float | None = Field(default=None, allow_inf_nan=False)
    memory_gb: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    best_before: float | None = Field(default=None, allow_inf_nan=False)
    best_after: float | None = Field(default=None, allow_inf_nan=False)
    head: str = Field(pattern=HASH_PATTERN, description="Branch tip after the decision.")
    reason: str = Field(default="", max_length=TEXT_MAX)
    description: Description = ""
    baseline: bool = False
    sigma: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="The campaign's noise (pooled σ̂, floored) the decision used.",
    )
    runs: int = Field(default=1, ge=0, le=REPEAT_MAX + 1, description="Runs of the commit behind val_bpb (their mean).")
    kept_runs: int = Field(default=0, ge=0, description="Runs of the kept state behind best_before (their mean), when it was compared.")
    confirmations: int = Field(default=0, ge=0, le=2 * REPEAT_MAX, description="Runs beyond the first that this experiment took.")
    clear_gain: float | None = Field(
        default=None, ge=0, allow_inf_nan=False,
        description="How far below best_after a next change's single run must land to be kept without confirmation runs.",
    )
    keep_rule: str = Field(default="greedy", max_length=NAME_MAX, description="The rule that decided: 'sprt' or 'greedy'.")


class CampaignFinished(Event):
    """The campaign reached its experiment limit; nothing more will be requested."""

    type: Literal["campaign.finished"] = "campaign.finished"
    experiments: int = Field(ge=0, description="Experiments decided beyond the baseline.")
    head: str = Field(pattern=HASH_PATTERN)
    best_val_bpb: float | None = Field(default=None, allow_inf_nan=False)
    reason: str = Field(default="", max_length=TEXT_MAX, description="Why it ended: the experiment limit, or proposals ran out.")


class ProposalExhausted(Event):
    """A proposer has no change left to propose from a commit: its ticket stays unanswered, on purpose."""

    type: Literal["proposal.exhausted"] = "proposal.exhausted"
    base_commit: str = Field(pattern=HASH_PATTERN, description="The branch tip the proposer has nothing left for.")
    reason: str = Field(min_length=1, max_length=TEXT_MAX, description="What was tried, for the campaign's record.")


class CampaignLimited(Event):
    """The campaign's experiment limit was set or changed; the trainer folds the latest one."""

    type: Literal["campaign.limited"] = "campaign.limited"
    limit: Annotated[int, Field(ge=0)] | None = Field(
        description="Experiments beyond the baseline, counted from the campaign's start, after which it finishes; None: no limit.",
    )
    session: str | None = Field(
        default=None, max_length=NAME_MAX, description="The sitting (one `autoresearch up`) that set it; its restarted trainer keeps it.",
    )


EVENT_CLASSES: tuple[type[Event], ...] = (
    CampaignStarted, ProposalRequested, ProposalCreated, ProposalRejected, CommitMade, CommitStale,
    RunStarted, RunProgress, RunFinished, ConfirmationRequested, VerdictDecided, CampaignFinished,
    CampaignLimited, ProposalExhausted,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.subject: cls for cls in EVENT_CLASSES}
AnyEvent = Annotated[Union[EVENT_CLASSES], Field(discriminator="type")]  # noqa: UP007 (a tuple of classes)
_any_event: TypeAdapter[Any] = TypeAdapter(AnyEvent)


def parse_event(data: bytes | str, subject: str | None = None) -> Event:
    """Validate raw JSON into its event model; the subject, when given, must match the type."""
    event = _any_event.validate_json(data)
    if subject is not None and event.type != subject:
        raise ValueError(f"event of type {event.type!r} arrived on subject {subject!r}")
    return event
