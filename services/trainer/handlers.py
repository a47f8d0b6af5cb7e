"""Trainer handlers: run commits one at a time, move the branch on verdicts, request proposals."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats
import structlog
from pydantic import ValidationError

from services.trainer.crash_reason import failure_reason, with_reason
from services.trainer.environment import run_environment
from services.trainer.prepared import Prepared, Room, prepare
from services.trainer.progress import CampaignProgress
from services.trainer.runner import RunOutcome
from services.trainer.workspace import Workspace, discarded_ref
from shared.events import (
    LOG_TAIL_MAX, TEXT_MAX, CampaignFinished, CommitMade, CommitStale, ConfirmationRequested, Event, ProposalExhausted,
    ProposalRejected, ProposalRequested, RunFinished, RunProgress, RunStarted, VerdictDecided, utc_now,
)
from shared.failures import RetryLater
from shared.ids import baseline_failed_id, campaign_finished_id, experiment_id, run_finished_id, stale_id, ticket_id

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
    exhaustion_told: bool = False
    finishing: tuple[str, str] | None = None  # the experiment and commit whose result is being published
    session: str | None = None  # the sitting (one `up`) served: a failed baseline is announced once in each
    run_timeout: float | None = None  # what a timed-out run is said to have had
    git_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one git step at a time on the workspace

    @property
    def campaign(self) -> str:
        return self.progress.campaign


async def request_proposals(ctx: TrainerContext) -> None:
    """Publish tickets until the lookahead bound (or the experiment limit) is reached; none until the baseline is kept."""
    progress = ctx.progress
    if progress.baseline_failure is not None:  # nothing is proposed on a baseline that failed: the campaign ends
        await announce_failed_baseline(ctx)
        return
    exhausted = progress.exhausted.get(ctx.workspace.head())
    while progress.started and exhausted is None and progress.wants_ticket():
        sequence = progress.tickets + 1
        ticket = ProposalRequested(
            event_id=ticket_id(ctx.campaign, sequence), campaign=ctx.campaign,
            experiment_id=experiment_id(ctx.campaign, sequence), producer=ctx.producer,
            base_commit=ctx.workspace.head(), sequence=sequence,
        )
        await ctx.publish(ticket)
        progress.apply(ticket)
    if progress.should_announce_finish():
        await announce_finish(ctx, f"reached its limit of {progress.limit} experiments")
    elif exhausted is not None and progress.baseline_decided and progress.outstanding == 0 and not ctx.exhaustion_told:
        ctx.exhaustion_told = True  # once per trainer: a resumed or restarted one says it again, and `up` ends on it
        await announce_finish(ctx, f"no change left to propose: {exhausted}")


async def announce_failed_baseline(ctx: TrainerContext) -> None:
    """End the campaign on its failed baseline, once per session: a resumed campaign ends again at once, saying why."""
    event_id = baseline_failed_id(ctx.campaign, ctx.session)
    if ctx.progress.should_announce_failure(event_id):
        await announce_finish(ctx, f"baseline failed: {ctx.progress.baseline_failure}"[:TEXT_MAX], event_id)


async def announce_finish(ctx: TrainerContext, reason: str, event_id: str | None = None) -> None:
    """Publish campaign.finished with why it ended."""
    progress = ctx.progress
    finished = CampaignFinished(
        event_id=event_id or campaign_finished_id(ctx.campaign, progress.decided), campaign=ctx.campaign,
        experiment_id=experiment_id(ctx.campaign, progress.tickets), producer=ctx.producer,
        experiments=progress.decided, head=ctx.workspace.head(), reason=reason,
    )
    await ctx.publish(finished)
    progress.apply(finished)
    log.info("campaign finished", campaign=ctx.campaign, experiments=progress.decided, reason=reason)


@dataclass(frozen=True)
class RunKind:
    """Which run of an experiment this is: its change's first, a confirmation run, a re-run of the kept state."""

    repeat: int = 0
    kept_state: bool = False
    baseline: bool = False


async def train(
    ctx: TrainerContext, experiment: str, commit: str, parent: str | None, description: str, kind: RunKind = RunKind(),
    room: Room | None = None,
) -> None:
    """Run one commit (in room, when it was prepared) and publish run.started, progress and run.finished."""
    base = dict(campaign=ctx.campaign, experiment_id=experiment, producer=ctx.producer)
    try:
        async with ctx.git_lock:
            await asyncio.to_thread(ctx.workspace.check_out, commit, room)
    except BaseException:
        if room is not None:  # a stop while waiting for the lock: the workspace never held the prepared room
            room.remove()
        raise
    await ctx.publish(RunStarted(**base, commit=commit, description=description, command=ctx.command))
    log.info("run started", experiment_id=experiment, commit=commit[:7], description=description)

    async def on_progress(step: int, percent: float | None, loss: float | None) -> None:
        await ctx.publish(RunProgress(**base, commit=commit, step=step, percent=percent, loss=loss))

    ctx.idle.clear()
    outcome = await ctx.run(on_progress=on_progress, experiment_id=experiment, commit=commit)
    baseline = kind.baseline
    finished = RunFinished(
        **base, event_id=run_finished_id(experiment, commit, kind.repeat), commit=commit, parent=parent,
        description=description, status=outcome.status, metrics=outcome.metrics, log_tail=outcome.log_tail,
        exit_code=outcome.exit_code, started_at=outcome.started_at, finished_at=outcome.finished_at, baseline=baseline,
        environment=run_environment(ctx.command, ctx.workspace.path, ctx.gpu, ctx.gpu_label, outcome.isolation),
        discard_ref=None if baseline or kind.kept_state else discarded_ref(ctx.campaign, commit),
        repeat=kind.repeat, kept_state=kind.kept_state,
    )
    await publish_run(ctx, finished)
    log.info("run finished", experiment_id=experiment, status=outcome.status, val_bpb=outcome.metrics.get("val_bpb"))


async def publish_run(ctx: TrainerContext, finished: RunFinished) -> None:
    """Publish a run's result, a failed one with its crash_reason; one the bus refuses (too large) goes out as a crash
    saying why, so the campaign goes on."""
    said = failure_reason(finished.status, finished.log_tail, ctx.run_timeout, finished.started_at, finished.finished_at)
    finished = finished.model_copy(update=dict(metrics=with_reason(finished.metrics, said)))
    ctx.finishing = (finished.experiment_id, finished.commit)  # its verdict may come back before publish returns
    try:
        await ctx.publish(finished)
    except (nats.errors.MaxPayloadError, ValidationError) as exc:
        reason = f"the run's result could not be published ({type(exc).__name__}: {str(exc)[:300]})"
        log.error("run result refused by the bus", experiment_id=finished.experiment_id, reason=reason)
        finished = finished.model_copy(update=dict(status="crash", metrics=with_reason({}, reason), log_tail=reason))
        await ctx.publish(finished)
    finally:
        ctx.finishing = None
    ctx.progress.apply(finished)


async def run_baseline(ctx: TrainerContext) -> None:
    """The campaign's first run: the unchanged base commit."""
    started = ctx.progress.started
    if started is None or ctx.progress.baseline_run:
        return
    await train(ctx, experiment_id(ctx.campaign, 0), started.base_commit, None, "baseline", RunKind(baseline=True))


def runnable(event: CommitMade, ctx: TrainerContext) -> bool:
    """True when the commit answers a ticket of this campaign whose experiment is still open and has not run."""
    if event.campaign != ctx.campaign or (event.experiment_id, event.commit) in ctx.progress.finished_runs:
        return False
    if ctx.progress.baseline_failure is not None:
        log.warning("commit set aside: the campaign's baseline failed", experiment_id=event.experiment_id)
        return False
    if event.experiment_id in ctx.progress.decided_experiments | ctx.progress.rejected_experiments:
        return False
    if not ctx.progress.issued(event.experiment_id):
        log.warning("commit answering no ticket of this campaign set aside", experiment_id=event.experiment_id,
                    commit=event.commit[:7], producer=event.producer)
        return False
    return True


async def on_commit_made(event: CommitMade, ctx: TrainerContext) -> None:
    """Prepare a commit while the previous run trains, run it once that run's verdict is applied; send back a commit
    built on an old tip."""
    if not runnable(event, ctx):
        return
    prepared: Prepared | None = None
    try:
        if event.parent == ctx.workspace.head():  # it runs unless the awaited verdict is a keep: get it ready now
            prepared = await prepare(event, ctx.workspace, ctx.ensure_commit, ctx.git_lock)
        await ctx.idle.wait()
        head = ctx.workspace.head()
        if prepared is not None and (event.parent != head or not runnable(event, ctx)):
            async with ctx.git_lock:  # imported ahead for nothing: it is made again on the new tip, if at all
                await asyncio.to_thread(ctx.workspace.forget, event.commit)
        if not runnable(event, ctx):  # the record may have moved while this commit waited
            return
        if event.parent != head:
            log.info("commit is stale, asking for it on the new tip", experiment_id=event.experiment_id, head=head[:7])
            await ctx.publish(CommitStale(
                event_id=stale_id(event.commit, head), campaign=ctx.campaign, experiment_id=event.experiment_id,
                producer=ctx.producer, commit=event.commit, head=head,
            ))
            return
        if prepared is None:
            prepared = await prepare(event, ctx.workspace, ctx.ensure_commit, ctx.git_lock)
        if prepared.failure is not None:
            await unrunnable(ctx, event, prepared.failure)
            return
        room, prepared.room = prepared.room, None  # the run's from here: train removes it
        await train(ctx, event.experiment_id, event.commit, event.parent, event.description, room=room)
    finally:
        if prepared is not None:  # stale, set aside, or the trainer stopping: a room that will not run goes
            prepared.drop()


async def unrunnable(ctx: TrainerContext, event: CommitMade, reason: str) -> None:
    """Publish a crash for a commit that cannot be run, so its verdict frees the slot instead of a hang."""
    now = utc_now()
    finished = RunFinished(
        campaign=ctx.campaign, experiment_id=event.experiment_id, producer=ctx.producer,
        event_id=run_finished_id(event.experiment_id, event.commit), commit=event.commit, parent=event.parent,
        description=event.description, status="crash", log_tail=reason[:LOG_TAIL_MAX], started_at=now, finished_at=now,
    )
    await publish_run(ctx, finished)
    log.error("commit cannot be run", experiment_id=event.experiment_id, commit=event.commit[:7], reason=reason)


async def on_confirmation_requested(event: ConfirmationRequested, ctx: TrainerContext) -> None:
    """Run the change, or the kept state, once more for the experiment whose verdict is awaited."""
    progress = ctx.progress
    if event.campaign != ctx.campaign or event.experiment_id in progress.decided_experiments:
        return
    if (event.experiment_id, event.commit, event.repeat) in progress.repeats:
        return
    if progress.awaiting_verdict != event.experiment_id:
        log.warning("confirmation for an experiment not awaiting its verdict ignored", experiment_id=event.experiment_id)
        return
    head = ctx.workspace.head()
    started = progress.started
    if event.kept_state:
        known, parent = event.commit == head, None
    elif event.baseline:
        known, parent = started is not None and event.commit == started.base_commit, None
    else:
        known, parent = (event.experiment_id, event.commit) in progress.finished_runs, head
    if not known:
        log.warning("confirmation of a commit this experiment did not run refused", experiment_id=event.experiment_id,
                    commit=event.commit[:7], kept_state=event.kept_state)
        return
    log.info("confirmation run", experiment_id=event.experiment_id, commit=event.commit[:7], repeat=event.repeat,
             kept_state=event.kept_state, reason=event.reason)
    kind = RunKind(repeat=event.repeat, kept_state=event.kept_state, baseline=event.baseline)
    await train(ctx, event.experiment_id, event.commit, parent, event.description, kind)


async def on_proposal_exhausted(event: ProposalExhausted, ctx: TrainerContext) -> None:
    """No change is left from a tip: its ticket is free, and when nothing else is under way the campaign ends."""
    if event.campaign != ctx.campaign:
        return
    ctx.progress.apply(event)
    log.warning("proposals exhausted", experiment_id=event.experiment_id, base=event.base_commit[:7], reason=event.reason)
    await request_proposals(ctx)


async def on_verdict_decided(event: VerdictDecided, ctx: TrainerContext) -> None:
    """Advance the branch on keep, reset it on discard or crash, then request more proposals."""
    progress = ctx.progress
    if event.campaign != ctx.campaign or event.experiment_id in progress.decided_experiments:
        return
    if not progress.ran(event.experiment_id, event.commit) and ctx.finishing != (event.experiment_id, event.commit):
        if progress.issued(event.experiment_id) or event.baseline:  # its run may be finishing: look again shortly
            raise RetryLater(f"no run of {event.commit[:7]} for {event.experiment_id} has finished here")
        log.warning("verdict for no experiment of this campaign set aside", experiment_id=event.experiment_id)
        return
    if event.head not in (event.commit, ctx.workspace.head()):
        log.warning("verdict moving the branch elsewhere set aside", experiment_id=event.experiment_id, head=event.head[:7])
        return
    async with ctx.git_lock:
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
