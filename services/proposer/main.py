"""Proposer bootstrap: pick the researcher, share the ticket queue with other proposers."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.history import SUBJECTS
from services.proposer.researcher import Researcher
from services.proposer.search import SearchResearcher
from shared.bus import Bus, consume
from shared.gitobjects import MissingObjects, ensure_commit, open_mirror, show_file
from shared.history import replay
from shared.settings import ServiceSettings


class ProposerSettings(ServiceSettings):
    """Which researcher proposes, and how many tickets one proposer works on at once."""

    proposer: Literal["search"] = Field(default="search", description="Kind of proposer.")
    concurrency: int = Field(default=1, ge=1, le=64)


def make_researcher(settings: ProposerSettings) -> Researcher:
    """The researcher for the configured kind."""
    return SearchResearcher()


async def serve(bus: Bus, stop: asyncio.Event, settings: ProposerSettings) -> None:
    """Answer tickets until stopped; proposers share the 'proposer' consumer as a work queue."""
    mirror = open_mirror(settings.state_dir / "proposer" / settings.instance / "mirror.git")

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        await ensure_commit(bus, mirror, commit, campaign)
        try:
            return await asyncio.to_thread(show_file, mirror, commit, path)
        except MissingObjects:
            return None

    ctx = ProposerContext(
        researcher=make_researcher(settings), publish=bus.publish,
        history=lambda campaign: replay(bus, SUBJECTS, campaign), read_file=read_file,
        producer=f"proposer/{settings.instance}",
    )
    handlers = {"proposal.requested": lambda e: on_proposal_requested(e, ctx)}
    workers = [
        consume(bus, "proposer", handlers, stop, ack_wait=60.0, max_deliver=-1, max_ack_pending=64)
        for _ in range(settings.concurrency)
    ]
    await asyncio.gather(*workers)
