"""Editor bootstrap: its own repository under the state folder, fed from the object store."""

from __future__ import annotations

import asyncio

from services.editor.consumers import proposals
from services.editor.handlers import EditorContext, on_commit_stale, on_proposal_created
from services.editor.repo import EditorRepo
from shared.bus import Bus, consume
from shared.campaigns import ServedCampaign, serving
from shared.events import CommitMade, CommitStale, ProposalCreated, ProposalRejected
from shared.gitobjects import commit_key, ensure_commit, upload_bundle
from shared.replay import replay
from shared.settings import ServiceSettings


class EditorSettings(ServiceSettings):
    """The editor needs the bus, a folder for its repository and, when it serves one campaign, its tag."""

    tag: ServedCampaign = None


async def serve(bus: Bus, stop: asyncio.Event, settings: EditorSettings) -> None:
    """Consume proposals and stale commits until stopped."""
    repo = EditorRepo(settings.state_dir / "editor" / "repo.git")

    async def fetch_commit(campaign: str, commit: str) -> None:
        await ensure_commit(bus, repo.repo, commit, campaign)

    async def ship_commit(commit: str, parent: str) -> str:
        await upload_bundle(bus, repo.repo, commit_key(commit), commit, exclude=parent)
        return commit_key(commit)

    ctx = EditorContext(repo, bus.publish, fetch_commit, ship_commit, f"editor/{settings.instance}")
    for event in await replay(bus, [ProposalCreated, ProposalRejected, CommitMade], settings.tag):
        ctx.remember(event)
    handlers = {
        ProposalCreated: lambda e: on_proposal_created(e, ctx),
        CommitStale: lambda e: on_commit_stale(e, ctx),
    }
    await consume(bus, proposals(settings.tag), serving(settings.tag, handlers), stop)
