"""Watching a campaign from NATS: a line per event as it happens, a table at the end."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import nats
from nats.aio.msg import Msg
from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
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


class LiveView:
    """On a terminal: the table of finished experiments and a bar for the current run, redrawn in place."""

    def __init__(self, console: Console) -> None:
        self.verdicts: list[VerdictDecided] = []
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                            TextColumn("{task.fields[loss]}"), TimeElapsedColumn())
        self.task: TaskID | None = None
        self.live = Live(self._render(), console=console, refresh_per_second=4)

    def _render(self) -> Group:
        best = next((v.best_after for v in reversed(self.verdicts) if v.best_after is not None), None)
        title = "experiments" + (f" · best val_bpb {best:.6f}" if best is not None else "")
        table = Table("experiment", "commit", "val_bpb", "memory_gb", "status", "description", title=title)
        for verdict in self.verdicts[-20:]:
            value = f"{verdict.val_bpb:.6f}" if verdict.val_bpb is not None else "-"
            table.add_row(verdict.experiment_id, verdict.commit[:7], value, f"{verdict.memory_gb:.1f}", verdict.status,
                          verdict.description, style=STATUS_STYLE[verdict.status])
        return Group(table, self.bar)

    def verdict(self, event: VerdictDecided) -> None:
        self.verdicts.append(event)
        self.live.update(self._render())

    def run_started(self, event: RunStarted) -> None:
        self.run_ended()
        self.task = self.bar.add_task(f"{event.experiment_id} {event.description[:40]}", total=100, loss="")

    def progress(self, event: RunProgress) -> None:
        if self.task is not None:
            loss = f"loss {event.loss:.4f}" if event.loss is not None else ""
            self.bar.update(self.task, completed=event.percent or 0.0, loss=loss)

    def run_ended(self) -> None:
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None


class CampaignWatcher:
    """Shows a campaign's events as they happen (live table on a terminal, plain lines elsewhere)."""

    def __init__(self, url: str, campaign: str | None, console: Console) -> None:
        self.url, self.campaign, self.console = url, campaign, console
        self.finished = asyncio.Event()
        self.nc: nats.NATS | None = None
        self.view = LiveView(console) if console.is_terminal else None
        self.reported_quarter = -1

    async def start(self) -> None:
        """Subscribe to the event subjects with a plain NATS subscription."""
        self.nc = await nats.connect(self.url, max_reconnect_attempts=-1)
        for subject in ("campaign.*", "proposal.rejected", "run.*", "verdict.decided"):
            await self.nc.subscribe(subject, cb=self._on_message)
        if self.view:
            self.view.live.start()

    async def _on_message(self, msg: Msg) -> None:
        try:
            event = parse_event(msg.data, msg.subject)
        except (ValidationError, ValueError):
            return
        if self.campaign and event.campaign != self.campaign:
            return
        if self.view:
            self._show_live(event)
        else:
            self._show_plain(event)
        if isinstance(event, CampaignFinished):
            self.finished.set()

    def _show_live(self, event: Event) -> None:
        view = self.view
        if isinstance(event, RunProgress):
            view.progress(event)
        elif isinstance(event, RunStarted):
            view.run_started(event)
        elif isinstance(event, RunFinished):
            view.run_ended()
        elif isinstance(event, VerdictDecided):
            view.verdict(event)
        elif line := describe(event):
            self.console.print(line, highlight=False)

    def _show_plain(self, event: Event) -> None:
        """A line per event, and a progress line every quarter of a run."""
        if isinstance(event, RunProgress):
            if event.percent is not None and int(event.percent // 25) > self.reported_quarter:
                self.reported_quarter = int(event.percent // 25)
                loss = f"loss {event.loss:.4f}" if event.loss is not None else ""
                self.console.print(f"  {event.experiment_id} step {event.step} ({event.percent:.0f}%) {loss}", highlight=False)
            return
        if isinstance(event, (RunStarted, RunFinished)):
            self.reported_quarter = -1
        if line := describe(event):
            self.console.print(line, highlight=False)

    async def close(self) -> None:
        if self.view:
            self.view.run_ended()
            self.view.live.stop()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    def print_summary(self, results: Path) -> None:
        """Where the results are; off a terminal, the lines of results.tsv too."""
        if not results.exists():
            return
        lines = [line for line in results.read_text().splitlines() if line.strip()]
        if self.view is None:
            self.console.print("\n".join(lines), highlight=False, markup=False)
        self.console.print(f"results: {len(lines) - 1} rows in {results}", highlight=False)
