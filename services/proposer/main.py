"""Proposer bootstrap: pick the researcher, share the ticket queue with other proposers."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field, model_validator

from services.proposer.consumers import tickets
from services.proposer.follow import CampaignFollower
from services.proposer.handlers import ProposerContext, on_proposal_requested
from services.proposer.llm.config import LLMSettings
from services.proposer.researcher import Researcher
from services.proposer.search import SearchResearcher
from shared.bus import Bus, consume
from shared.campaigns import ServedCampaign, serving
from shared.events import ProposalRequested
from shared.gitobjects import MissingObjects, ensure_commit, open_mirror, show_file


class ProposerSettings(LLMSettings):
    """Which researcher proposes, how many tickets one proposer works on at once, and the campaign it serves."""

    tag: ServedCampaign = None

    proposer: Literal["search", "llm"] | None = Field(
        default=None, description="Kind of proposer; default llm when AUTORESEARCH_LLM_MODEL is set, else search.",
    )
    concurrency: int = Field(default=1, ge=1, le=64)

    @model_validator(mode="after")
    def _llm_ready(self) -> ProposerSettings:
        if self.kind == "llm":
            self.check_llm()
        return self

    @property
    def kind(self) -> str:
        """The proposer kind in effect."""
        return self.proposer or ("llm" if self.llm_configured else "search")


def make_researcher(settings: ProposerSettings) -> Researcher:
    """The researcher for the configured kind."""
    if settings.kind == "llm":
        from services.proposer.llm.researcher import make_llm_researcher
        return make_llm_researcher(settings)
    return SearchResearcher()


async def serve(bus: Bus, stop: asyncio.Event, settings: ProposerSettings) -> None:
    """Answer tickets until stopped; the proposers of a campaign (or of every campaign) share one consumer as a work queue."""
    mirror = open_mirror(settings.state_dir / "proposer" / settings.instance / "mirror.git")

    async def read_file(campaign: str, commit: str, path: str) -> str | None:
        try:
            await ensure_commit(bus, mirror, commit, campaign)
            return await asyncio.to_thread(show_file, mirror, commit, path)
        except MissingObjects:
            return None

    researcher = make_researcher(settings)
    follower = CampaignFollower(bus, loss_curves=settings.kind == "llm")
    ctx = ProposerContext(
        researcher=researcher, publish=bus.publish, records=follower.records, read_file=read_file,
        producer=f"proposer/{settings.instance}", instance=settings.instance,
    )
    handlers = serving(settings.tag, {ProposalRequested: lambda e: on_proposal_requested(e, ctx)})
    workers = [
        consume(bus, tickets(settings.tag), handlers, stop, max_deliver=-1, max_ack_pending=64)
        for _ in range(settings.concurrency)
    ]
    try:
        await asyncio.gather(*workers)
    finally:
        close = getattr(researcher, "aclose", None)
        if close is not None:
            await close()
