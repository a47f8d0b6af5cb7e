"""Watching a campaign from NATS: a line per event as it happens, a table at the end."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import nats
from nats.aio.msg import Msg
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from shared.events import (
    CampaignFinished, CampaignStarted, Event, ProposalRejected, RunFinished, RunStarted, VerdictDecided, parse_event,
)

STATUS_STYLE = {"keep": "green", "discard": "yellow", "crash": "red"}


def describe(event: Event) -> str | None:
    """One line for the events a person watching wants to see; None for the rest."""
    exp = event.experiment_id
    if isinstance(event, CampaignStarted):
        return f"campaign [bold]{event.campaign}[/] on {event.branch} from {event.base_commit[:7]}"
    if isinstance(event, RunStarted):
        return f"[cyan]▶ {exp}[/] {event.commit[:7]} {event.description}"
    if isinstance(event, RunFinished):
        value = event.metrics.get("val_bpb")
        return f"  {exp} run {event.status}" + (f" val_bpb={value:.6f}" if isinstance(value, float) else "")
    if isinstance(event, VerdictDecided):
        style = STATUS_STYLE[event.status]
        best = f" best={event.best_after:.6f}" if event.best_after is not None else ""
        return f"[{style}]{event.status:>7}[/] {exp} {event.commit[:7]} {event.description}{best}"
    if isinstance(event, ProposalRejected):
        return f"[magenta]rejected[/] {exp}: {event.reason}"
    if isinstance(event, CampaignFinished):
        return f"campaign {event.campaign} finished after {event.experiments} experiments"
    return None


class CampaignWatcher:
    """Prints a campaign's events live and notices when it finishes."""

    def __init__(self, url: str, campaign: str | None, console: Console) -> None:
        self.url, self.campaign, self.console = url, campaign, console
        self.finished = asyncio.Event()
        self.nc: nats.NATS | None = None

    async def start(self) -> None:
        """Subscribe to every event subject with a plain NATS subscription."""
        self.nc = await nats.connect(self.url, max_reconnect_attempts=-1)
        for subject in ("campaign.*", "proposal.rejected", "run.started", "run.finished", "verdict.decided"):
            await self.nc.subscribe(subject, cb=self._on_message)

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = parse_event(msg.data, msg.subject)
        except (ValidationError, ValueError):
            return
        if self.campaign and event.campaign != self.campaign:
            return
        line = describe(event)
        if line:
            self.console.print(line, highlight=False)
        if isinstance(event, CampaignFinished):
            self.finished.set()

    async def close(self) -> None:
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    def print_summary(self, results: Path) -> None:
        """The campaign's results.tsv as a table."""
        if not results.exists():
            return
        rows = [line.split("\t") for line in results.read_text().splitlines() if line.strip()]
        if len(rows) < 2:
            return
        table = Table(*rows[0], title=f"results ({results})")
        for row in rows[1:]:
            style = STATUS_STYLE.get(row[3], "") if len(row) > 3 else ""
            table.add_row(*row, style=style)
        self.console.print(table)
