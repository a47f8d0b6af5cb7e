"""Editor handlers: a proposal becomes a commit (or a rejection); a stale commit is re-applied."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from git import GitCommandError
from nats.errors import MaxPayloadError
from pydantic import ValidationError

from services.editor.repo import EditorRepo, RepoError
from shared.failures import is_permanent
from shared.edits import EditError, apply_edits
from shared.events import (
    TEXT_MAX,
    CommitMade,
    CommitStale,
    Event,
    ProposalCreated,
    ProposalRejected,
)
from shared.ids import commit_made_id, rejection_id

log = structlog.get_logger("editor")


@dataclass
class EditorContext:
    """The editor's repository, its links to the bus, and what it has already done."""

    repo: EditorRepo
    publish: Callable[[Event], Awaitable[None]]
    fetch_commit: Callable[[str, str], Awaitable[None]]
    ship_commit: Callable[[str, str], Awaitable[str]]
    producer: str
    proposals: dict[str, ProposalCreated] = field(default_factory=dict)
    answered: set[tuple[str, str]] = field(default_factory=set)

    def remember(self, event: Event) -> None:
        """Fold a past event in, so a redelivered one is not handled twice."""
        if isinstance(event, ProposalCreated):
            self.proposals[event.experiment_id] = event
        elif isinstance(event, CommitMade):
            self.answered.add((event.experiment_id, event.rebased_from or event.parent))
        elif isinstance(event, ProposalRejected):
            self.answered.add((event.experiment_id, event.base_commit))


def _reason(exc: Exception) -> str:
    """Why a proposal cannot become a commit, in words the proposer (or its model) can act on."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return f"the commit does not fit the commit.made contract: {problems}"
    if isinstance(exc, GitCommandError):
        words = str(exc.stderr).strip().removeprefix("stderr:").strip(" '")
        return f"git refused the change: {words}"
    if isinstance(exc, MaxPayloadError):
        return f"the commit is too large to publish ({exc})"
    return str(exc) or type(exc).__name__


async def _commit_proposal(proposal: ProposalCreated, onto: str, ctx: EditorContext, rebased_from: str | None) -> None:
    """Apply the proposal on onto; publish commit.made, or proposal.rejected with the reason.

    Whatever would fail the same way on every try (edits that do not apply, a base that cannot be
    found, git refusing the result, a commit too large to send) is answered with a rejection, so the
    proposer hears why and the trainer frees the slot; trouble that passes is raised, to be retried.
    """
    key = (proposal.experiment_id, rebased_from or proposal.base_commit)
    if key in ctx.answered:
        return
    ids = dict(campaign=proposal.campaign, experiment_id=proposal.experiment_id, producer=ctx.producer)
    message = f"experiment: {proposal.description}"
    try:
        await ctx.fetch_commit(proposal.campaign, onto)
        source = await asyncio.to_thread(ctx.repo.read_file, onto)
        text = apply_edits(source, proposal.edits)
        made = await asyncio.to_thread(ctx.repo.commit_file, onto, text, message, proposal.occurred_at)
        bundle = await ctx.ship_commit(made.commit, onto)
        await ctx.publish(CommitMade(
            **ids, event_id=commit_made_id(proposal.experiment_id, made.commit), commit=made.commit, parent=onto,
            message=message, description=proposal.description, diff=made.diff, lines_added=made.lines_added,
            lines_removed=made.lines_removed, bundle=bundle, rebased_from=rebased_from,
        ))
    except Exception as exc:
        if not isinstance(exc, EditError | RepoError) and not is_permanent(exc):
            raise
        reason = _reason(exc) if rebased_from is None else f"no longer applies on {onto[:7]}: {_reason(exc)}"
        await ctx.publish(ProposalRejected(
            **ids, event_id=rejection_id(proposal.experiment_id, onto), description=proposal.description,
            reason=reason[:TEXT_MAX], base_commit=key[1],
        ))
        ctx.answered.add(key)
        log.info("proposal rejected", experiment_id=proposal.experiment_id, reason=reason[:500])
        return
    ctx.answered.add(key)
    log.info("commit made", experiment_id=proposal.experiment_id, commit=made.commit[:7], parent=onto[:7])


async def on_proposal_created(event: ProposalCreated, ctx: EditorContext) -> None:
    """Turn a proposal into a commit on its base."""
    ctx.proposals[event.experiment_id] = event
    await _commit_proposal(event, event.base_commit, ctx, None)


async def on_commit_stale(event: CommitStale, ctx: EditorContext) -> None:
    """Re-apply an experiment's proposal on the new branch tip."""
    proposal = ctx.proposals.get(event.experiment_id)
    if proposal is None:
        log.warning("stale commit for an unknown proposal", experiment_id=event.experiment_id)
        return
    await _commit_proposal(proposal, event.head, ctx, event.commit)
