"""Proposer handler: answer one ticket with one proposal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from pydantic import ValidationError

from services.proposer.records import CampaignRecords
from services.proposer.researcher import Draft, NoIdea, NothingLeft, ResearchContext, Researcher
from shared.failures import PermanentError, RetryLater
from shared.events import NOTE_MAX, TEXT_MAX, Event, ProposalCreated, ProposalExhausted, ProposalRequested
from shared.ids import exhausted_id, proposal_id

log = structlog.get_logger("proposer")
README = "README.md"


@dataclass
class ProposerContext:
    """The researcher and the ways to read the campaign: its history and its files."""

    researcher: Researcher
    publish: Callable[[Event], Awaitable[None]]
    records: Callable[[str], Awaitable[CampaignRecords]]
    read_file: Callable[[str, str, str], Awaitable[str | None]]
    producer: str
    instance: str | None = None


def asks_for_readme(program_md: str | None) -> bool:
    """True when program.md names README.md among the files to read, so the researcher is shown it too."""
    return bool(program_md) and README.lower() in program_md.lower()


async def _caught_up_to_baseline(ticket: ProposalRequested, ctx: ProposerContext) -> CampaignRecords:
    """The records once they hold the baseline's verdict, or RetryLater so the ticket comes back after it."""
    # The ticket and the records come from separate reads of the stream, so the records may lag behind a
    # verdict published before the ticket: catch up once more before deciding the baseline is still running.
    records = await ctx.records(ticket.campaign)
    if not records.baseline_decided():
        raise RetryLater("the baseline has no verdict yet: the first proposal waits for its result")
    return records


def _proposal(ticket: ProposalRequested, draft: Draft, ctx: ProposerContext) -> ProposalCreated:
    """The draft as the ticket's proposal; prose beyond the contract's bounds is cut, anything else must fit."""
    return ProposalCreated(
        event_id=proposal_id(ticket.experiment_id), campaign=ticket.campaign, experiment_id=ticket.experiment_id,
        producer=ctx.producer, base_commit=ticket.base_commit, description=draft.description,
        rationale=draft.rationale[:TEXT_MAX], expected_vram_impact=draft.expected_vram_impact[:NOTE_MAX], edits=draft.edits,
        proposer_kind=ctx.researcher.kind, kind=draft.kind, proposer=ctx.instance or ctx.producer,
        model=draft.model, input_tokens=draft.input_tokens, output_tokens=draft.output_tokens,
        latency_s=draft.latency_s, cost=draft.cost,
    )


async def on_proposal_requested(event: ProposalRequested, ctx: ProposerContext) -> None:
    """Answer the ticket with proposal.created drafted from its base commit, or proposal.exhausted when none is left."""
    records = await ctx.records(event.campaign)
    answered = records.get(event.experiment_id)
    if answered is not None and answered.proposed:
        return  # answered before a restart, or by another proposer
    if getattr(ctx.researcher, "waits_for_baseline", False) and not records.baseline_decided():
        records = await _caught_up_to_baseline(event, ctx)
    train_py = await ctx.read_file(event.campaign, event.base_commit, "train.py")
    if train_py is None:
        raise PermanentError(f"train.py is missing at {event.base_commit[:7]}")
    program_md = await ctx.read_file(event.campaign, event.base_commit, "program.md")
    context = ResearchContext(
        campaign=event.campaign, experiment_id=event.experiment_id, base_commit=event.base_commit,
        train_py=train_py, history=records.records(), program_md=program_md,
        prepare_py=await ctx.read_file(event.campaign, event.base_commit, "prepare.py"),
        readme_md=await ctx.read_file(event.campaign, event.base_commit, README) if asks_for_readme(program_md) else None,
    )
    try:
        draft = await ctx.researcher.propose(context)
        proposal = _proposal(event, draft, ctx)
    except NothingLeft as exc:
        # Handing the ticket back would bring the same answer forever; saying so lets the campaign end.
        await ctx.publish(ProposalExhausted(
            event_id=exhausted_id(event.experiment_id, event.base_commit), campaign=event.campaign,
            experiment_id=event.experiment_id, producer=ctx.producer, base_commit=event.base_commit,
            reason=str(exc)[:TEXT_MAX] or "nothing left to propose",
        ))
        log.warning("nothing left to propose", experiment_id=event.experiment_id, reason=str(exc))
        return
    except NoIdea as exc:
        log.warning("no proposal this time", experiment_id=event.experiment_id, reason=str(exc))
        raise
    except ValidationError as exc:
        # The draft came from a researcher, not from the ticket: the next draft may fit, so the ticket is
        # handed back rather than set aside (which would leave its slot unanswered for good).
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        log.warning("draft does not fit a proposal", experiment_id=event.experiment_id, problems=problems[:500])
        raise RetryLater(f"the draft does not fit a proposal: {problems}") from None
    await ctx.publish(proposal)
    log.info(
        "proposal created", experiment_id=event.experiment_id, description=draft.description, kind=draft.kind,
        model=draft.model, input_tokens=draft.input_tokens, output_tokens=draft.output_tokens, latency_s=draft.latency_s,
    )
