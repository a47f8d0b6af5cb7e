"""Ledger handler: keep every event once, tell live readers, bring the campaign's results.tsv up to date on each verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import structlog

from services.ledger.broadcast import Broadcaster
from services.ledger.gate import CampaignGate
from services.ledger.store import EventStore
from shared.events import Event, VerdictDecided
from shared.results_tsv import ResultsWriter, render_rows, results_row

log = structlog.get_logger("ledger")


@dataclass
class LedgerContext:
    """The store, where each campaign's results.tsv goes, and the live readers to tell."""

    store: EventStore
    results_dir: Path
    results_overrides: dict[str, Path]
    broadcaster: Broadcaster = field(default_factory=Broadcaster)
    gate: CampaignGate | None = None  # loaded from the store on first use
    results: dict[str, CampaignResults] = field(default_factory=dict)  # by campaign, loaded from the store on first use

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


class CampaignResults:
    """A campaign's rows (each experiment's latest verdict, at its first one's place) and the file they go to."""

    def __init__(self, path: Path, verdicts: list[VerdictDecided]) -> None:
        self.rows: dict[str, str] = {}
        self.file = ResultsWriter(path)
        for verdict in verdicts:
            self.record(verdict)

    def record(self, verdict: VerdictDecided) -> None:
        """The experiment's row, new at the end or changed in place."""
        self.rows[verdict.experiment_id] = results_row(verdict)

    def text(self) -> str:
        """The whole file."""
        return render_rows(self.rows.values())


def write_results(ctx: LedgerContext, verdict: VerdictDecided, added: bool) -> Path:
    """Put a stored verdict's row into its campaign's results.tsv: appended when new, the file rewritten when it must be.

    A redelivered verdict (added False) changes no row: the rows already follow the store, where it was kept before.
    """
    results = ctx.results.get(verdict.campaign)
    if results is None:  # the first verdict since the ledger started: every row from the store, this one included
        results = ctx.results[verdict.campaign] = CampaignResults(
            ctx.results_path(verdict.campaign), ctx.store.verdicts(verdict.campaign),
        )
    elif added:
        results.record(verdict)
    results.file.write(results.text())
    return results.file.path


async def on_event(event: Event, ctx: LedgerContext) -> None:
    """Store the event and pass it to live readers; every verdict, new or redelivered, brings results.tsv up to date."""
    if ctx.store.seq_of(event.event_id) is None and not ctx.admits(event):
        return
    added = ctx.store.add(event)
    if added:  # a redelivered event was already shown
        ctx.broadcaster.publish(event)
    # A verdict comes again only when its first handling did not finish (the write failed, the ledger stopped
    # before its ack): it is already stored then, and writing again is what puts its row in the file.
    if isinstance(event, VerdictDecided):
        path = write_results(ctx, event, added)
        log.info("results updated", campaign=event.campaign, experiment_id=event.experiment_id, path=str(path))
