"""Event contracts: every message that crosses a service boundary, defined once.

Each event is one JSON object on the subject named by its ``type``. Models are
pure data: they validate, they do nothing else.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from shared.edits import Edit

SCHEMA_VERSION = 1
CAMPAIGN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


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

    event_id: str = Field(default_factory=new_event_id, min_length=1, description="Unique id; also the Nats-Msg-Id header.")
    schema_version: int = Field(default=SCHEMA_VERSION, description="Version of this contract.")
    campaign: str = Field(pattern=CAMPAIGN_PATTERN, description="Run tag; the branch is autoresearch/<campaign>.")
    experiment_id: str = Field(min_length=1, description="Shared by the proposal, commit, run and verdict of one experiment.")
    occurred_at: datetime = Field(default_factory=utc_now, description="When it happened, UTC.")
    producer: str = Field(min_length=1, description="service/instance that published it.")


class CampaignStarted(Event):
    """The trainer opened a campaign: branch created, base commit shipped."""

    type: Literal["campaign.started"] = "campaign.started"
    branch: str = Field(description="Campaign branch in the workspace.")
    base_commit: str = Field(min_length=40, max_length=40, description="Commit the campaign starts from.")
    bundle: str = Field(description="Object-store key of a git bundle holding the base history.")
    lookahead: int = Field(ge=0, description="Experiments prepared ahead of the one training.")


class ProposalRequested(Event):
    """Demand for one proposal: a ticket that exactly one proposer answers."""

    type: Literal["proposal.requested"] = "proposal.requested"
    base_commit: str = Field(min_length=40, max_length=40, description="Branch tip to propose from.")
    sequence: int = Field(ge=1, description="Ticket number within the campaign.")


class ProposalCreated(Event):
    """A proposer suggests one change to train.py."""

    type: Literal["proposal.created"] = "proposal.created"
    base_commit: str = Field(min_length=40, max_length=40, description="Commit the edits apply to.")
    description: str = Field(min_length=1, max_length=200, pattern=r"^[^\t\n\r]+$", description="One line; goes into results.tsv.")
    rationale: str = Field(default="", description="Why this change might help.")
    expected_vram_impact: str = Field(default="unknown", description="Expected effect on peak memory.")
    edits: list[Edit] = Field(min_length=1, description="Search/replace blocks on train.py.")
    proposer_kind: str = Field(default="search", description="Which kind of proposer made it.")
    kind: Literal["change", "repair"] = Field(default="change", description="'repair' re-proposes a crashed idea with its bug fixed.")
    proposer: str | None = Field(default=None, description="Instance of the proposer that made it.")
    model: str | None = Field(default=None, description="Language model that drafted it, if any.")
    input_tokens: int | None = Field(default=None, ge=0, description="Prompt tokens spent on it, all tries together.")
    output_tokens: int | None = Field(default=None, ge=0, description="Completion tokens spent on it, all tries together.")
    latency_s: float | None = Field(default=None, ge=0, description="Seconds spent waiting for the model.")
    cost: float | None = Field(default=None, ge=0, description="Price of the tokens, from the proposer's configured prices.")


class ProposalRejected(Event):
    """The editor could not turn a proposal into a commit."""

    type: Literal["proposal.rejected"] = "proposal.rejected"
    description: str = Field(default="", description="The rejected proposal's description.")
    reason: str = Field(min_length=1, description="Why it was rejected, for the proposer's next try.")
    base_commit: str = Field(default="", description="Commit the edits were applied to.")


class CommitMade(Event):
    """The editor turned a proposal into a commit and shipped its git objects."""

    type: Literal["commit.made"] = "commit.made"
    commit: str = Field(min_length=40, max_length=40, description="Full hash.")
    parent: str = Field(min_length=40, max_length=40, description="Parent commit (the base).")
    message: str = Field(description="Commit message: 'experiment: <description>'.")
    description: str = Field(description="The proposal's one-line description.")
    diff: str = Field(description="Unified diff against the parent.")
    lines_added: int = Field(ge=0)
    lines_removed: int = Field(ge=0)
    bundle: str = Field(description="Object-store key of a git bundle parent..commit.")
    rebased_from: str | None = Field(default=None, description="Earlier commit of this experiment, when re-applied onto a newer head.")


class CommitStale(Event):
    """The trainer found a commit whose parent is no longer the branch tip."""

    type: Literal["commit.stale"] = "commit.stale"
    commit: str = Field(min_length=40, max_length=40)
    head: str = Field(min_length=40, max_length=40, description="Current branch tip to re-apply onto.")


class RunStarted(Event):
    """The trainer began a training run."""

    type: Literal["run.started"] = "run.started"
    commit: str = Field(min_length=40, max_length=40)
    description: str = ""
    command: str = Field(description="The train command as run.")


class RunProgress(Event):
    """A step line from a run in progress."""

    type: Literal["run.progress"] = "run.progress"
    commit: str = Field(min_length=40, max_length=40)
    step: int = Field(ge=0)
    percent: float | None = None
    loss: float | None = None


RunStatus = Literal["ok", "crash", "timeout"]


class RunFinished(Event):
    """The trainer ran a commit to completion, a crash or a timeout."""

    type: Literal["run.finished"] = "run.finished"
    commit: str = Field(min_length=40, max_length=40)
    parent: str | None = Field(default=None, description="Branch tip the commit was run on top of; None for the baseline.")
    description: str = ""
    status: RunStatus
    metrics: dict[str, float | str] = Field(default_factory=dict, description="Every key: value of the summary block.")
    log_tail: str = Field(default="", description="Last 50 lines of the run log.")
    exit_code: int | None = None
    started_at: datetime
    finished_at: datetime
    baseline: bool = Field(default=False, description="True for the campaign's unchanged first run.")
    environment: dict[str, str] = Field(default_factory=dict, description="Host, torch version, device, command.")
    discard_ref: str | None = Field(
        default=None, description="Ref where the trainer keeps the commit if the branch is reset away from it; None for the baseline.",
    )


VerdictStatus = Literal["keep", "discard", "crash"]


class VerdictDecided(Event):
    """The evaluator kept or discarded a run."""

    type: Literal["verdict.decided"] = "verdict.decided"
    commit: str = Field(min_length=40, max_length=40)
    status: VerdictStatus
    val_bpb: float | None = None
    memory_gb: float = Field(default=0.0, ge=0)
    best_before: float | None = None
    best_after: float | None = None
    head: str = Field(min_length=40, max_length=40, description="Branch tip after the decision.")
    reason: str = ""
    description: str = ""
    baseline: bool = False


class CampaignFinished(Event):
    """The campaign reached its experiment limit; nothing more will be requested."""

    type: Literal["campaign.finished"] = "campaign.finished"
    experiments: int = Field(ge=0, description="Experiments decided beyond the baseline.")
    head: str = Field(min_length=40, max_length=40)
    best_val_bpb: float | None = None


EVENT_CLASSES: tuple[type[Event], ...] = (
    CampaignStarted, ProposalRequested, ProposalCreated, ProposalRejected, CommitMade, CommitStale,
    RunStarted, RunProgress, RunFinished, VerdictDecided, CampaignFinished,
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
