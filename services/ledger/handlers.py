"""Ledger handler: keep every event once, tell live readers, rewrite the campaign's results.tsv on each verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from services.ledger.broadcast import Broadcaster
from services.ledger.gate import CampaignGate
from services.ledger.store import EventStore
from shared.events import Event, VerdictDecided
from shared.results_tsv import render_results, write_atomically

log = structlog.get_logger("ledger")


@dataclass
class LedgerContext:
    """The store, where each campaign's results.tsv goes, and the live readers to tell."""

    store: EventStore
    results_dir: Path
    results_overrides: dict[str, Path]
    broadcaster: Broadcaster = field(default_factory=Broadcaster)
    gate: CampaignGate | None = None  # loaded from the store on first use

    def admits(self, event: Event) -> bool:
        """Record the event unless its campaign never started or has finished; say so when it is set aside."""
        if self.gate is None:
            self.gate = CampaignGate.load(self.store)
        refusal = self.gate.refusal(event)
        if refusal is not None:
            log.warning("event set aside", reason=refusal, type=event.type, campaign=event.campaign,
                        experiment_id=event.experiment_id, producer=event.producer)
            return False
        self.gate.apply(event)
        return True

    def results_path(self, campaign: str) -> Path:
        """results.tsv for a campaign: the configured path, or one per campaign in the results folder."""
        return self.results_overrides.get(campaign, self.results_dir / f"{campaign}.tsv")


def write_results(ctx: LedgerContext, campaign: str) -> Path:
    """Render a campaign's results.tsv from the store."""
    path = ctx.results_path(campaign)
    write_atomically(path, render_results(ctx.store.verdicts(campaign)))
    return path


async def on_event(event: Event, ctx: LedgerContext) -> None:
    """Store the event and pass it to live readers; every verdict, new or redelivered, rewrites results.tsv."""
    if ctx.store.seq_of(event.event_id) is None and not ctx.admits(event):
        return
    added = ctx.store.add(event)
    if added:  # a redelivered event was already shown
        ctx.broadcaster.publish(event)
    # A verdict comes again only when its first handling did not finish (the write failed, the ledger stopped
    # before its ack): it is already stored then, and rewriting is what puts its row in the file.
    if isinstance(event, VerdictDecided):
        path = write_results(ctx, event.campaign)
        log.info("results updated", campaign=event.campaign, experiment_id=event.experiment_id, path=str(path))
