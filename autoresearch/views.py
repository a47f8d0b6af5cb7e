"""Events as they happen: a live table and progress bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from autoresearch.display import describe, number, run_label, shown, verdict_table
from shared.events import (
    CampaignFinished, CampaignStarted, ConfirmationRequested, Event, ProposalExhausted, ProposalRejected, RunFinished,
    RunProgress, RunStarted, VerdictDecided,
)
from shared.text import printable

ProgressLines = Literal["quarters", "all", "none"]
LABEL = 24  # characters of the running experiment's description beside its bar


class EventLines:
    """A line per event; run progress every quarter of a run, at every step, or not at all."""

    def __init__(self, console: Console, progress: ProgressLines = "quarters", timestamps: bool = False) -> None:
        self.console, self.progress, self.timestamps = console, progress, timestamps
        self.reported_quarter = -1

    def show(self, event: Event) -> None:
        """Print the event's line, unless it is a progress line not wanted."""
        if isinstance(event, RunProgress) and not self._wanted(event):
            return
        if isinstance(event, (RunStarted, RunFinished)):
            self.reported_quarter = -1
        if line := describe(event):
            stamp = f"[dim]{event.occurred_at:%H:%M:%S}[/] " if self.timestamps else ""
            self.console.print(stamp + line, highlight=False, soft_wrap=True)

    def _wanted(self, event: RunProgress) -> bool:
        if self.progress != "quarters":
            return self.progress == "all"
        quarter = -1 if event.percent is None else int(event.percent // 25)
        if quarter <= self.reported_quarter:
            return False
        self.reported_quarter = quarter
        return True

    def notice(self, text: str) -> None:
        """A line about the connection, not about the campaign."""
        self.console.print(f"[yellow]{shown(text)}[/]", highlight=False, soft_wrap=True)

    def start(self) -> None:
        """Nothing to set up for plain lines."""

    def stop(self) -> None:
        """Nothing to tear down for plain lines."""


class LiveView:
    """The table of decided experiments and a bar for the current run, redrawn in place; other news as lines above."""

    LINES = (CampaignStarted, ProposalRejected, ProposalExhausted, ConfirmationRequested, CampaignFinished)  # not in the table

    def __init__(self, console: Console) -> None:
        self.console = console
        self.verdicts: list[VerdictDecided] = []
        self.asked: dict[str, ConfirmationRequested] = {}  # the confirmation run each experiment waits for
        self.sigma: float | None = None
        self.confirmation_runs = 0
        # within 80 columns: the label (about 30), a short bar, the percentage, the loss and the time
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=16), TextColumn("{task.percentage:>5.1f}%"),
                            TextColumn("{task.fields[loss]}"), TimeElapsedColumn())
        self.task: TaskID | None = None
        self.live = Live(self._render(), console=console, refresh_per_second=4)

    def _render(self) -> Group:
        best = next((v.best_after for v in reversed(self.verdicts) if v.best_after is not None), None)
        title = "experiments" + (f" · best val_bpb {best:.6f}" if best is not None else "")
        title += f" · σ̂ {self.sigma:.6f}" if self.sigma is not None else ""
        title += f" · {self.confirmation_runs} confirmation runs" if self.confirmation_runs else ""
        return Group(verdict_table([v.model_dump() for v in self.verdicts[-20:]], title), self.bar)

    def show(self, event: Event) -> None:
        """Update the table or the bar, or print a line above them."""
        if isinstance(event, RunProgress):
            self.progress(event)
        elif isinstance(event, RunStarted):
            self.run_started(event)
        elif isinstance(event, RunFinished):
            self.run_finished(event)
        elif isinstance(event, VerdictDecided):
            self.verdict(event)
        elif isinstance(event, self.LINES) and (line := describe(event)):
            if isinstance(event, ConfirmationRequested):
                self.asked[event.experiment_id] = event
                self.sigma = event.sigma if event.sigma is not None else self.sigma
                self.live.update(self._render())
            self.console.print(line, highlight=False, soft_wrap=True)

    def verdict(self, event: VerdictDecided) -> None:
        """Add a row to the table."""
        self.verdicts.append(event)
        self.asked.pop(event.experiment_id, None)
        self.sigma = event.sigma if event.sigma is not None else self.sigma
        self.live.update(self._render())

    def run_started(self, event: RunStarted) -> None:
        """Show a fresh bar for the run, saying which run of the experiment it is when it was asked for."""
        self.run_ended()
        asked = self.asked.get(event.experiment_id)
        which = run_label(asked.repeat, asked.kept_state) if asked and asked.commit == event.commit else ""
        room = max(LABEL - len(which), 8)  # the label stays within about 30 columns, so the bar keeps the rest
        what = event.description if len(event.description) <= room else event.description[:room - 1] + "…"
        label = f"{number(event.experiment_id)} {shown(what)}" + (f" {which}" if which else "")
        self.task = self.bar.add_task(label, total=100, loss="")

    def run_finished(self, event: RunFinished) -> None:
        """Take the run's bar away; count it when it was a confirmation run."""
        self.run_ended()
        if event.repeat or event.kept_state:
            self.confirmation_runs += 1
            self.live.update(self._render())

    def progress(self, event: RunProgress) -> None:
        """Move the bar."""
        if self.task is not None:
            loss = f"loss {event.loss:.4f}" if event.loss is not None else ""
            self.bar.update(self.task, completed=event.percent or 0.0, loss=loss)

    def run_ended(self) -> None:
        """Take the run's bar away."""
        if self.task is not None:
            self.bar.remove_task(self.task)
            self.task = None

    def notice(self, text: str) -> None:
        """A line about the connection, above the table."""
        self.console.print(f"[yellow]{shown(text)}[/]", highlight=False, soft_wrap=True)

    def start(self) -> None:
        """Begin redrawing."""
        self.live.start()

    def stop(self) -> None:
        """Leave the last table on the screen."""
        self.run_ended()
        self.live.stop()


def campaign_view(console: Console) -> LiveView | EventLines:
    """The live view on a terminal, plain lines elsewhere (a log file, a pipe)."""
    return LiveView(console) if console.is_terminal else EventLines(console)


def print_results(console: Console, results: Path, rows: bool) -> None:
    """Where results.tsv is and how many rows it holds; with rows, its lines too."""
    if not results.exists():
        return
    lines = [line for line in results.read_text().splitlines() if line.strip()]
    if rows:  # the rows as in the file (tabs kept, never wrapped) for tools reading the output, each cell printable
        console.file.write("\n".join("\t".join(printable(cell) for cell in line.split("\t")) for line in lines) + "\n")
    console.print(f"results: {len(lines) - 1} rows in {shown(str(results))}", highlight=False, soft_wrap=True)


def print_failed_baseline(console: Console, reason: str, log_lines: list[str]) -> None:
    """Why the campaign ended before its first experiment: the baseline's reason, its log's last lines, what to do."""
    console.print(f"[red]baseline failed: {shown(reason)}[/]", highlight=False, soft_wrap=True)
    if log_lines:
        console.print("last lines of run.log:", highlight=False)
        for line in log_lines:
            console.print(Text(f"  {printable(line)}"), highlight=False, soft_wrap=True)
    console.print("Nothing is proposed on a baseline that does not run. Fix the workspace or the train command, then "
                  "start a new campaign with another --tag (a --resume of this one ends the same way).",
                  highlight=False, soft_wrap=True)
