"""What every kind of proposer implements: given the context, draft one change."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from services.proposer.records import ExperimentRecord
from shared.failures import RetryLater
from shared.edits import Edit


@dataclass(frozen=True)
class ResearchContext:
    """Everything a proposer may look at for one proposal."""

    campaign: str
    experiment_id: str
    base_commit: str
    train_py: str
    history: list[ExperimentRecord] = field(default_factory=list)
    program_md: str | None = None
    prepare_py: str | None = None
    readme_md: str | None = None  # read only when program.md asks for it


@dataclass(frozen=True)
class Draft:
    """One proposed change, before it becomes a proposal.created event."""

    description: str
    rationale: str
    expected_vram_impact: str
    edits: list[Edit]
    kind: Literal["change", "repair"] = "change"
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float | None = None
    cost: float | None = None


class NoIdea(RetryLater):
    """The proposer has nothing new to offer from this base right now."""


class NothingLeft(NoIdea):
    """The proposer has nothing left to offer from this base, ever: asking again would get the same answer."""


class Researcher(Protocol):
    """A source of proposals: the built-in search, or a language model."""

    kind: str

    async def propose(self, context: ResearchContext) -> Draft:
        """Draft one change to train.py, or raise NoIdea (NothingLeft when no change is left to propose)."""
        ...
