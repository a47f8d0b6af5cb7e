"""Trainer bootstrap: open the campaign, rebuild progress from the stream, run until stopped."""

from __future__ import annotations

import asyncio
import functools
import os

import structlog

from services.trainer.config import TrainerSettings
from services.trainer.environment import gpu_name
from services.trainer.handlers import (
    TrainerContext, log_path, on_commit_made, on_proposal_rejected, on_verdict_decided, request_proposals, run_baseline,
)
from services.trainer.consumers import commits, control
from services.trainer.progress import CampaignProgress
from services.trainer.runner import run_training, training_environment
from services.trainer.workspace import Workspace
from shared.bus import Bus, consume
from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, ProposalRejected, ProposalRequested, RunFinished, VerdictDecided,
)
from shared.gitobjects import base_key, ensure_commit, upload_bundle
from shared.replay import replay
from shared.ids import campaign_started_id, experiment_id

log = structlog.get_logger("trainer")
HISTORY = [CampaignStarted, CampaignFinished, ProposalRequested, ProposalRejected, RunFinished, VerdictDecided]


async def open_campaign(bus: Bus, settings: TrainerSettings, workspace: Workspace, producer: str) -> CampaignProgress:
    """Check out the branch, replay the campaign's history, announce it if it is new."""
    head = await asyncio.to_thread(workspace.open_campaign)
    progress = CampaignProgress(settings.tag, lookahead=settings.lookahead)
    for event in await replay(bus, HISTORY, settings.tag):
        progress.apply(event)
    if progress.started is None:
        await upload_bundle(bus, workspace.repo, base_key(settings.tag), head)
        started = CampaignStarted(
            event_id=campaign_started_id(settings.tag), campaign=settings.tag, experiment_id=experiment_id(settings.tag, 0),
            producer=producer, branch=workspace.branch, base_commit=head, bundle=base_key(settings.tag),
            lookahead=settings.lookahead,
        )
        await bus.publish(started)
        progress.apply(started)
    if settings.max_experiments is not None:
        progress.limit = progress.decided + settings.max_experiments
    log.info("campaign open", campaign=settings.tag, head=head[:7], decided=progress.decided, limit=progress.limit)
    return progress


async def serve(bus: Bus, stop: asyncio.Event, settings: TrainerSettings) -> None:
    """Run the baseline, then commits as they come, until stop is set."""
    producer = f"trainer/{settings.instance}"
    workspace = Workspace(settings.workspace.resolve(), settings.tag)
    progress = await open_campaign(bus, settings, workspace, producer)
    run = functools.partial(
        run_training, settings.train_command, workspace.path, settings.run_timeout,
        training_environment(dict(os.environ), settings.gpu), log_path(workspace.path),
    )
    ctx = TrainerContext(
        workspace=workspace, progress=progress, publish=bus.publish, run=run,
        ensure_commit=lambda commit: ensure_commit(bus, workspace.repo, commit, settings.tag),
        command=settings.train_command, producer=producer, gpu=settings.gpu,
        gpu_label=await asyncio.to_thread(gpu_name, settings.gpu),
    )
    if progress.awaiting_verdict is None:
        ctx.idle.set()
    decisions = {VerdictDecided: lambda e: on_verdict_decided(e, ctx), ProposalRejected: lambda e: on_proposal_rejected(e, ctx)}
    tasks = [asyncio.create_task(consume(bus, control(settings.tag), decisions, stop))]
    await request_proposals(ctx)
    baseline = asyncio.create_task(run_baseline(ctx))
    await asyncio.wait({baseline, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    if not baseline.done():
        baseline.cancel()
        await asyncio.gather(baseline, return_exceptions=True)
    else:
        baseline.result()
        runs = {CommitMade: lambda e: on_commit_made(e, ctx)}
        tasks.append(asyncio.create_task(consume(bus, commits(settings.tag), runs, stop, ack_wait=30.0)))
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
