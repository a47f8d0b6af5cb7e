"""Trainer bootstrap: open the campaign, rebuild progress from the stream, run until stopped."""

from __future__ import annotations

import asyncio
import functools
import os
from pathlib import Path

import structlog

from services.trainer.cleanroom import room_runner
from services.trainer.config import TrainerSettings
from services.trainer.containment import plan
from services.trainer.run_cgroup import remove_abandoned
from services.trainer.environment import gpu_name
from services.trainer.handlers import (
    TrainerContext, log_path, on_commit_made, on_confirmation_requested, on_proposal_exhausted, on_proposal_rejected,
    on_verdict_decided, request_proposals, run_baseline,
)
from services.trainer.consumers import commits, control
from services.trainer.progress import CampaignProgress
from services.trainer.results_file import ResultsFile, recording
from services.trainer.run_record import kill_leftover, record_path
from services.trainer.runner import run_training, training_environment
from services.trainer.uv_project import sync_for_runs, uv_project
from services.trainer.workspace import Workspace, WorkspaceError
from shared.bus import Bus, consume
from shared.events import (
    CampaignFinished, CampaignLimited, CampaignStarted, CommitMade, ConfirmationRequested, ProposalExhausted, ProposalRejected,
    ProposalRequested, RunFinished, VerdictDecided,
)
from shared.gitobjects import base_key, ensure_commit, upload_bundle
from shared.replay import replay
from shared.ids import campaign_limited_id, campaign_started_id, experiment_id

log = structlog.get_logger("trainer")
# How long a message the trainer holds stays its own without a word from it. A run keeps its commit with
# in-progress acks every ACK_WAIT/3 s (shared/bus.py), so a live trainer never loses it; a trainer killed
# outright hands nothing back, and its commit is free again ACK_WAIT s after the last in-progress ack.
# JetStream offers no other way to take back a dead consumer's message: a nak needs the message's reply
# subject, which only the dead process knew, and no pull request gets a message while it is pending.
# `up` has a new trainer consuming about 0.8 s after a kill, so with 2 s the commit runs again about
# 1.6 s after the kill (30 s took 23-28 s); bench/trainer_restart.py measures it. A longer lapse of acks
# (a stalled loop, a NATS outage) can free a commit only for another trainer of the campaign: this one
# fetches nothing while it runs. Creating the durable with another ack_wait updates an existing one.
ACK_WAIT = 2.0
HISTORY = [
    CampaignStarted, CampaignLimited, CampaignFinished, ProposalRequested, ProposalRejected, ProposalExhausted, RunFinished,
    VerdictDecided,
]


async def end_leftover_run(record: Path) -> None:
    """Kill the run that a trainer before this one recorded and left behind, and wait until it is gone."""
    leftover = await asyncio.to_thread(kill_leftover, record)
    if leftover is not None:
        run, killed = leftover
        log.warning("leftover run killed" if killed else "leftover run already gone", experiment_id=run.experiment_id,
                    commit=run.commit[:7], pgid=run.pgid, started_at=run.started_at, killed=killed)


async def open_campaign(bus: Bus, settings: TrainerSettings, workspace: Workspace, producer: str) -> CampaignProgress:
    """Check out the branch, replay the campaign's history, announce it if it is new, record its limit."""
    existed = await asyncio.to_thread(workspace.branch_exists)
    progress = CampaignProgress(settings.tag, lookahead=settings.lookahead)
    for event in await replay(bus, HISTORY, settings.tag):
        progress.apply(event)
    if existed and progress.started is None:  # its record is gone (a deleted stream, another server): never begin again
        raise WorkspaceError(
            f"branch {workspace.branch} exists but the bus holds no record of campaign {settings.tag}: a new baseline "
            "would start it over under the same name. Point NATS_URL at the server that ran it, or choose another --tag."
        )
    head = await asyncio.to_thread(workspace.open_campaign)
    if progress.started is None:
        await upload_bundle(bus, workspace.repo, base_key(settings.tag), head)
        started = CampaignStarted(
            event_id=campaign_started_id(settings.tag), campaign=settings.tag, experiment_id=experiment_id(settings.tag, 0),
            producer=producer, branch=workspace.branch, base_commit=head, bundle=base_key(settings.tag),
            lookahead=settings.lookahead,
        )
        await bus.publish(started)
        progress.apply(started)
    await record_limit(bus, settings, progress, producer)
    log.info("campaign open", campaign=settings.tag, head=head[:7], decided=progress.decided, limit=progress.limit)
    return progress


async def record_limit(bus: Bus, settings: TrainerSettings, progress: CampaignProgress, producer: str) -> None:
    """Store in the stream the absolute experiment limit the settings ask for, unless it is already the one there."""
    limit = progress.limit_asked(settings.max_experiments, settings.session)
    if not progress.limit_changes(limit, settings.session):
        return
    limited = CampaignLimited(
        event_id=campaign_limited_id(settings.tag, len(progress.limits_set) + 1), campaign=settings.tag,
        experiment_id=experiment_id(settings.tag, progress.tickets), producer=producer, limit=limit,
        session=settings.session,
    )
    await bus.publish(limited)
    progress.apply(limited)


async def serve(bus: Bus, stop: asyncio.Event, settings: TrainerSettings) -> None:
    """Kill any run left behind, then run the baseline, then commits as they come, until stop is set."""
    settings.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # never readable by a run as another user
    # nvidia-smi can take a second: it answers while the campaign opens, not before the baseline can start
    naming_gpu = asyncio.create_task(asyncio.to_thread(gpu_name, settings.gpu))
    isolation = await asyncio.to_thread(
        plan, settings.run_as, settings.no_network, settings.state_dir, settings.workspace)
    log.info("run isolation", isolation=isolation.label, cgroup=isolation.cgroup, pid_namespace=isolation.pid_namespace,
             reaper=isolation.reaper, no_network=isolation.no_network, run_as=settings.run_as)
    record = record_path(settings.state_dir.resolve(), settings.tag, settings.workspace)
    await end_leftover_run(record)
    if killed := await asyncio.to_thread(remove_abandoned):  # a trainer killed before its run's guard started
        log.warning("leftover run cgroup killed", killed=killed)
    producer = f"trainer/{settings.instance}"
    workspace = Workspace(settings.workspace.resolve(), settings.tag)
    env = training_environment(dict(os.environ), settings.gpu, settings.pass_env)
    if (project := uv_project(workspace.path, settings.train_command, os.environ)) is not None:
        # before the campaign opens: a sync that cannot succeed refuses the setup and starts nothing
        switch = isolation.run_as.switch() if isolation.run_as else None
        if not await sync_for_runs(project, env, settings.state_dir, stop, switch):
            return
        env.update(project.run_variables())
    progress = await open_campaign(bus, settings, workspace, producer)
    results = ResultsFile(settings.results_path, settings.tag)
    await results.catch_up(bus, progress.ran)
    run = functools.partial(
        run_training, settings.train_command, timeout=settings.run_timeout,
        env=env, log_path=log_path(workspace.path),
        record=record, isolation=isolation,
        evaluation=None if settings.trust_printed_metric else settings.evaluation,
    )
    ctx = TrainerContext(
        workspace=workspace, progress=progress, publish=bus.publish, run=room_runner(workspace, run),
        ensure_commit=lambda commit: ensure_commit(bus, workspace.repo, commit, settings.tag),
        command=settings.train_command, producer=producer, gpu=settings.gpu,
        gpu_label=await naming_gpu, session=settings.session,
        run_timeout=settings.run_timeout,
    )
    if progress.awaiting_verdict is None:
        ctx.idle.set()
    # Confirmation runs arrive here, in order with the verdicts: each belongs to the experiment whose verdict is
    # awaited, while the next commit waits on the other consumer for that verdict.
    decisions = {
        VerdictDecided: recording(lambda e: on_verdict_decided(e, ctx), results, lambda: ctx.progress.decided_experiments),
        ProposalRejected: lambda e: on_proposal_rejected(e, ctx),
        ConfirmationRequested: lambda e: on_confirmation_requested(e, ctx),
        ProposalExhausted: lambda e: on_proposal_exhausted(e, ctx),
    }
    # A verdict or commit is never dropped after some number of tries: a trainer killed mid-run hands its
    # commit back each time, and what cannot succeed is set aside at once by the bus (see shared/bus.py).
    forever = dict(ack_wait=ACK_WAIT, max_deliver=-1)
    tasks = [asyncio.create_task(consume(bus, control(settings.tag), decisions, stop, **forever))]
    await request_proposals(ctx)
    baseline = asyncio.create_task(run_baseline(ctx))
    await asyncio.wait({baseline, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if not baseline.done():
        baseline.cancel()
        await asyncio.gather(baseline, return_exceptions=True)
    else:
        baseline.result()
        runs = {CommitMade: lambda e: on_commit_made(e, ctx)}
        tasks.append(asyncio.create_task(consume(bus, commits(settings.tag), runs, stop, **forever)))
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
