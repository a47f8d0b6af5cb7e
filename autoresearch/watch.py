"""Watching a campaign from NATS: a line per event as it happens, a table at the end."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import nats
from nats.aio.msg import Msg
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.events import (
    CampaignFinished, CampaignStarted, Event, ProposalRejected, RunFinished, RunProgress, RunStarted, VerdictDecided,
    parse_event,
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
        self.bar: Progress | None = None
        self.task: TaskID | None = None
        self.reported_quarter = -1

    async def start(self) -> None:
        """Subscribe to every event subject with a plain NATS subscription."""
        self.nc = await nats.connect(self.url, max_reconnect_attempts=-1)
        for subject in ("campaign.*", "proposal.rejected", "run.*", "verdict.decided"):
            await self.nc.subscribe(subject, cb=self._on_message)
        if self.console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                                TextColumn("{task.fields[loss]}"), TimeElapsedColumn(), console=self.console, transient=True)
            self.bar.start()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = parse_event(msg.data, msg.subject)
        except (ValidationError, ValueError):
            return
        if self.campaign and event.campaign != self.campaign:
            return
        if isinstance(event, RunProgress):
            self._show_progress(event)
            return
        self._end_progress(event)
        line = describe(event)
        if line:
            self.console.print(line, highlight=False)
        if isinstance(event, RunStarted) and self.bar is not None:
            self.task = self.bar.add_task(f"{event.experiment_id} training", total=100, loss="")
        if isinstance(event, CampaignFinished):
            self.finished.set()

    def _show_progress(self, event: RunProgress) -> None:
        """A live bar on a terminal; a plain line every quarter of the run elsewhere."""
        loss = f"loss {event.loss:.4f}" if event.loss is not None else ""
        if self.bar is not None and self.task is not None:
            self.bar.update(self.task, completed=event.percent or 0.0, loss=loss)
        elif self.bar is None and event.percent is not None and int(event.percent // 25) > self.reported_quarter:
            self.reported_quarter = int(event.percent // 25)
            self.console.print(f"  {event.experiment_id} step {event.step} ({event.percent:.0f}%) {loss}", highlight=False)

    def _end_progress(self, event: Event) -> None:
        if isinstance(event, (RunStarted, RunFinished)):
            self.reported_quarter = -1
            if self.bar is not None and self.task is not None:
                self.bar.remove_task(self.task)
                self.task = None

    async def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
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
