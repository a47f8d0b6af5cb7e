"""Trainer handlers: run commits one at a time, move the branch on verdicts, request proposals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from services.trainer.environment import run_environment
from services.trainer.progress import CampaignProgress
from services.trainer.runner import RunOutcome
from services.trainer.workspace import Workspace, discarded_ref
from shared.events import (
    LOG_TAIL_MAX, CampaignFinished, CommitMade, CommitStale, Event, ProposalRejected, ProposalRequested, RunFinished,
    RunProgress, RunStarted, VerdictDecided, utc_now,
)
from shared.gitobjects import MissingObjects
from shared.ids import campaign_finished_id, experiment_id, run_finished_id, stale_id, ticket_id

log = structlog.get_logger("trainer")
Publish = Callable[[Event], Awaitable[None]]
RunCommand = Callable[..., Awaitable[RunOutcome]]
EnsureCommit = Callable[[str], Awaitable[None]]


@dataclass
class TrainerContext:
    """What the trainer's handlers need: the workspace, the runner, the bus, the campaign's progress."""

    workspace: Workspace
    progress: CampaignProgress
    publish: Publish
    run: RunCommand
    ensure_commit: EnsureCommit
    command: str
    producer: str
    gpu: str | None = None
    gpu_label: str = "none"
    idle: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def campaign(self) -> str:
        return self.progress.campaign


async def request_proposals(ctx: TrainerContext) -> None:
    """Publish tickets until the lookahead bound (or the experiment limit) is reached."""
    progress = ctx.progress
    while progress.started and progress.wants_ticket():
        sequence = progress.tickets + 1
        ticket = ProposalRequested(
            event_id=ticket_id(ctx.campaign, sequence), campaign=ctx.campaign,
            experiment_id=experiment_id(ctx.campaign, sequence), producer=ctx.producer,
            base_commit=ctx.workspace.head(), sequence=sequence,
        )
        await ctx.publish(ticket)
        progress.apply(ticket)
    if progress.should_announce_finish():
        finished = CampaignFinished(
            event_id=campaign_finished_id(ctx.campaign, progress.decided), campaign=ctx.campaign,
            experiment_id=experiment_id(ctx.campaign, progress.tickets), producer=ctx.producer,
            experiments=progress.decided, head=ctx.workspace.head(),
        )
        await ctx.publish(finished)
        progress.apply(finished)
        log.info("campaign reached its experiment limit", campaign=ctx.campaign, experiments=progress.decided)


async def train(ctx: TrainerContext, experiment: str, commit: str, parent: str | None, description: str) -> None:
    """Run one commit and publish run.started, progress and run.finished."""
    base = dict(campaign=ctx.campaign, experiment_id=experiment, producer=ctx.producer)
    await asyncio.to_thread(ctx.workspace.check_out, commit)
    await ctx.publish(RunStarted(**base, commit=commit, description=description, command=ctx.command))
    log.info("run started", experiment_id=experiment, commit=commit[:7], description=description)

    async def on_progress(step: int, percent: float | None, loss: float | None) -> None:
        await ctx.publish(RunProgress(**base, commit=commit, step=step, percent=percent, loss=loss))

    ctx.idle.clear()
    outcome = await ctx.run(on_progress=on_progress, experiment_id=experiment, commit=commit)
    finished = RunFinished(
        **base, event_id=run_finished_id(experiment, commit), commit=commit, parent=parent, description=description,
        status=outcome.status, metrics=outcome.metrics, log_tail=outcome.log_tail, exit_code=outcome.exit_code,
        started_at=outcome.started_at, finished_at=outcome.finished_at, baseline=parent is None,
        environment=run_environment(ctx.command, ctx.workspace.path, ctx.gpu, ctx.gpu_label),
        discard_ref=None if parent is None else discarded_ref(ctx.campaign, commit),
    )
    await ctx.publish(finished)
    ctx.progress.apply(finished)
    log.info("run finished", experiment_id=experiment, status=outcome.status, val_bpb=outcome.metrics.get("val_bpb"))


async def run_baseline(ctx: TrainerContext) -> None:
    """The campaign's first run: the unchanged base commit."""
    started = ctx.progress.started
    if started is None or ctx.progress.baseline_run:
        return
    await train(ctx, experiment_id(ctx.campaign, 0), started.base_commit, None, "baseline")


async def on_commit_made(event: CommitMade, ctx: TrainerContext) -> None:
    """Run a commit once the previous run's verdict is applied; send back a commit built on an old tip."""
    if event.campaign != ctx.campaign or (event.experiment_id, event.commit) in ctx.progress.finished_runs:
        return
    if event.experiment_id in ctx.progress.decided_experiments | ctx.progress.rejected_experiments:
        return
    await ctx.idle.wait()
    head = ctx.workspace.head()
    if event.parent != head:
        log.info("commit is stale, asking for it on the new tip", experiment_id=event.experiment_id, head=head[:7])
        await ctx.publish(CommitStale(
            event_id=stale_id(event.commit, head), campaign=ctx.campaign, experiment_id=event.experiment_id,
            producer=ctx.producer, commit=event.commit, head=head,
        ))
        return
    try:
        await ctx.ensure_commit(event.commit)
    except MissingObjects as exc:  # asking again finds the same nothing: the experiment ends as a crash
        await unrunnable(ctx, event, f"the commit's objects could not be fetched: {exc}")
        return
    await train(ctx, event.experiment_id, event.commit, event.parent, event.description)


async def unrunnable(ctx: TrainerContext, event: CommitMade, reason: str) -> None:
    """Publish a crash for a commit that cannot be run, so its verdict frees the slot instead of a hang."""
    now = utc_now()
    finished = RunFinished(
        campaign=ctx.campaign, experiment_id=event.experiment_id, producer=ctx.producer,
        event_id=run_finished_id(event.experiment_id, event.commit), commit=event.commit, parent=event.parent,
        description=event.description, status="crash", log_tail=reason[:LOG_TAIL_MAX], started_at=now, finished_at=now,
    )
    await ctx.publish(finished)
    ctx.progress.apply(finished)
    log.error("commit cannot be run", experiment_id=event.experiment_id, commit=event.commit[:7], reason=reason)


async def on_verdict_decided(event: VerdictDecided, ctx: TrainerContext) -> None:
    """Advance the branch on keep, reset it on discard or crash, then request more proposals."""
    if event.campaign != ctx.campaign or event.experiment_id in ctx.progress.decided_experiments:
        return
    if event.status == "keep":
        await asyncio.to_thread(ctx.workspace.advance, event.head)
    else:
        discarded = None if event.baseline else event.commit
        await asyncio.to_thread(ctx.workspace.reset_to, event.head, discarded)
    ctx.progress.apply(event)
    log.info("verdict applied", experiment_id=event.experiment_id, status=event.status, head=event.head[:7])
    if ctx.progress.awaiting_verdict is None:
        ctx.idle.set()
    await request_proposals(ctx)


async def on_proposal_rejected(event: ProposalRejected, ctx: TrainerContext) -> None:
    """A rejected proposal frees its slot; ask for another."""
    if event.campaign != ctx.campaign:
        return
    ctx.progress.apply(event)
    await request_proposals(ctx)


def log_path(workspace: Path) -> Path:
    """Where each run's output goes."""
    return workspace / "run.log"
