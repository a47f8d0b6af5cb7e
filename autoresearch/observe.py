"""Watching a campaign from the command line: status, results and plot ask the ledger API; watch listens on NATS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Annotated, Any

import httpx
import nats
import typer
from nats.aio.msg import Msg
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from autoresearch.watch import STATUS_STYLE, describe
from shared.bus import STREAM_SUBJECTS
from shared.events import CommitMade, CommitStale, Event, ProposalCreated, RunProgress, parse_event

DEFAULT_LEDGER_URL = "http://127.0.0.1:8750"
DECIDED = ["keep", "discard", "crash"]
LedgerUrl = Annotated[str, typer.Option("--ledger-url", envvar="AUTORESEARCH_LEDGER_URL", help="The ledger's read API.")]
CampaignName = Annotated[str | None, typer.Option("--campaign", help="Campaign tag (default: the latest one).")]
console = Console()
err = Console(stderr=True)


class ObserveError(Exception):
    """The ledger or NATS could not answer; the message says what to do."""


class LedgerClient:
    """The few reads the commands make, with errors a person can act on."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=30.0, transport=transport)

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET a path; a refused connection or an error status becomes an ObserveError."""
        try:
            response = self.http.get(path, params={k: v for k, v in params.items() if v is not None})
        except httpx.TransportError as exc:
            raise ObserveError(
                f"cannot reach the ledger at {self.base_url} ({exc.__class__.__name__}); is `autoresearch up` running? "
                "Point --ledger-url or AUTORESEARCH_LEDGER_URL at it."
            ) from None
        if response.is_error:
            try:
                detail = response.json().get("detail", response.text)
            except ValueError:
                detail = response.text
            raise ObserveError(f"the ledger answered {response.status_code}: {detail}")
        return response

    def campaign(self, given: str | None) -> str:
        """The named campaign, else the one the ledger saw last."""
        if given:
            return given
        campaigns = self.get("/api/campaigns").json()
        if not campaigns:
            raise ObserveError(f"the ledger at {self.base_url} has no campaign yet")
        return campaigns[-1]

    def decided(self, campaign: str) -> list[dict[str, Any]]:
        """Every decided experiment, oldest first, a page at a time."""
        rows: list[dict[str, Any]] = []
        while True:
            page = self.get(f"/api/campaigns/{campaign}/experiments", status=DECIDED, offset=len(rows), limit=500).json()
            rows += page["items"]
            if not page["items"] or len(rows) >= page["total"]:
                return sorted(rows, key=lambda row: row["number"])


def duration(seconds: float | None) -> str:
    """1h 02m, 3m 04s, 12s."""
    if seconds is None:
        return "–"
    s = round(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def bpb(value: float | None) -> str:
    """val_bpb to 6 decimals, a dash when there is none."""
    return "–" if value is None else f"{value:.6f}"


def verdict_table(rows: list[dict[str, Any]], title: str) -> Table:
    """Decided experiments as a table, coloured by status."""
    table = Table(title=title, title_justify="left")
    for name in ("#", "commit", "val_bpb", "GB", "status"):
        table.add_column(name, no_wrap=True, justify="right" if name in ("#", "val_bpb", "GB") else "left")
    table.add_column("description", ratio=1)
    for row in rows:
        memory = "0.0" if row["status"] == "crash" else f"{row['memory_gb'] or 0:.1f}"
        table.add_row(str(row["number"]), (row["commit"] or "")[:7], bpb(row["val_bpb"]), memory,
                      row["status"], row["description"], style=STATUS_STYLE.get(row["status"], ""))
    return table


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The summary in a few lines: state, counts, running experiment, best so far."""
    counts = summary["counts"]
    state = "finished" if summary["finished"] else "training" if summary["running"] else "waiting"
    idle = f"{summary['idle_share'] * 100:.1f}%" if summary["idle_share"] is not None else "–"
    lines = [
        f"campaign [bold]{summary['campaign']}[/] · {state} · {summary['experiments_total']} decided "
        f"([green]{counts['keep']} kept[/], [yellow]{counts['discard']} discarded[/], [red]{counts['crash']} crashed[/], "
        f"{counts['rejected']} rejected) · wall {duration(summary['wall_seconds'])} · trainer idle {idle}"
    ]
    run = summary["running"]
    if run:
        percent = run["percent"]
        bar = "█" * round((percent or 0) / 10) + "░" * (10 - round((percent or 0) / 10))
        figures = " ".join(part for part in (
            f"{percent:.1f}%" if percent is not None else "starting",
            f"step {run['step']}" if run["step"] is not None else "",
            f"loss {run['loss']:.4f}" if run["loss"] is not None else "",
        ) if part)
        what = f"{run['experiment_id']} {run['commit'][:7]} {run['description']}"
        lines.append(f"[cyan]running[/]  {what}  {bar} {figures} · {duration(run['elapsed_seconds'])}")
    else:
        lines.append("[dim]no run in progress[/]")
    if summary["best_val_bpb"] is not None:
        gain = summary["improvement_percent"]
        versus = f" ({gain:.2f}% below baseline {bpb(summary['baseline_val_bpb'])})" if gain is not None else ""
        what = f"{summary['best_commit'][:7]} {summary['best_description']}"
        lines.append(f"[green]best[/]     {bpb(summary['best_val_bpb'])}{versus} {what}")
    lines.append(f"trend    {summary.get('trajectory', 'starting')}")
    tokens_in, tokens_out = summary.get("proposal_input_tokens", 0), summary.get("proposal_output_tokens", 0)
    if tokens_in or tokens_out:
        cost = f" · cost {summary['proposal_cost']:.4f}" if summary.get("proposal_cost") is not None else ""
        lines.append(f"proposer {tokens_in:,} tokens in, {tokens_out:,} out{cost}")
    return lines


def status(
    ledger_url: LedgerUrl = DEFAULT_LEDGER_URL, campaign: CampaignName = None,
    last: Annotated[int, typer.Option(min=0, max=100, help="How many recent verdicts to list.")] = 5,
) -> None:
    """The current run and its progress, the best so far, the last verdicts."""
    with _reported():
        client = LedgerClient(ledger_url)
        name = client.campaign(campaign)
        summary = client.get(f"/api/campaigns/{name}/summary").json()
        for line in summary_lines(summary):
            console.print(line, highlight=False)
        if last:
            page = client.get(f"/api/campaigns/{name}/experiments", status=DECIDED, order="desc", limit=last).json()
            if page["items"]:
                console.print(verdict_table(list(reversed(page["items"])), f"last {len(page['items'])} verdicts"))


def results(
    ledger_url: LedgerUrl = DEFAULT_LEDGER_URL, campaign: CampaignName = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of the table.")] = False,
) -> None:
    """Every decided experiment as a table, or the campaign's summary as JSON."""
    with _reported():
        client = LedgerClient(ledger_url)
        name = client.campaign(campaign)
        if as_json:
            typer.echo(json.dumps(client.get(f"/api/campaigns/{name}/summary").json(), indent=2))
            return
        console.print(verdict_table(client.decided(name), f"results of {name}"))
        for line in summary_lines(client.get(f"/api/campaigns/{name}/summary").json()):
            console.print(line, highlight=False)


def plot(
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the PNG.")] = Path("progress.png"),
    ledger_url: LedgerUrl = DEFAULT_LEDGER_URL, campaign: CampaignName = None,
    width: Annotated[int, typer.Option(min=320, max=4000, help="Pixels.")] = 1200,
    height: Annotated[int, typer.Option(min=240, max=3000, help="Pixels.")] = 600,
) -> None:
    """Save the progress chart (val_bpb per experiment, running best, kept ideas labelled) as a PNG."""
    with _reported():
        client = LedgerClient(ledger_url)
        name = client.campaign(campaign)
        png = client.get(f"/api/campaigns/{name}/progress.png", width=width, height=height).content
        output.write_bytes(png)
        console.print(f"wrote {output} ({width}x{height}, campaign {name})", highlight=False)


def event_line(event: Event) -> str | None:
    """One line per event: the up command's wording where it has one, a plain line otherwise."""
    text = describe(event)
    if text is None and isinstance(event, ProposalCreated):
        text = f"[dim]proposed[/] {event.experiment_id} {event.description}"
    elif text is None and isinstance(event, CommitMade):
        text = f"[dim]committed[/] {event.experiment_id} {event.commit[:7]} +{event.lines_added} -{event.lines_removed}"
    elif text is None and isinstance(event, CommitStale):
        text = f"[dim]stale[/] {event.experiment_id} {event.commit[:7]}, re-applying on {event.head[:7]}"
    elif text is None and isinstance(event, RunProgress):
        percent = f" {event.percent:.1f}%" if event.percent is not None else ""
        loss = f" loss {event.loss:.4f}" if event.loss is not None else ""
        text = f"  [dim]{event.experiment_id} step {event.step}{percent}{loss}[/]"
    return None if text is None else f"[dim]{event.occurred_at:%H:%M:%S}[/] {text}"


async def watch_events(
    url: str, campaign: str | None, out: Console, stop: asyncio.Event, progress: bool = True, wait: float = 5.0,
) -> None:
    """Print every event of the campaign (or all campaigns) as it is published, until stop is set."""
    problems: list[Exception] = []

    async def remember(exc: Exception) -> None:  # nats-py would print a traceback per failed attempt
        problems.append(exc)

    async def on_disconnect() -> None:
        if not stop.is_set():  # closing at the end disconnects too
            out.print("[yellow]disconnected from NATS, reconnecting…[/]")

    async def on_reconnect() -> None:
        out.print("[green]reconnected to NATS[/]")

    try:
        # reconnecting forever once connected, but a server that is not there at all is an error
        nc = await asyncio.wait_for(nats.connect(
            url, max_reconnect_attempts=-1, reconnect_time_wait=1, error_cb=remember,
            disconnected_cb=on_disconnect, reconnected_cb=on_reconnect,
        ), wait)
    except Exception as exc:
        reason = problems[-1] if problems else exc
        raise ObserveError(f"cannot reach NATS at {url} ({reason or reason.__class__.__name__}); set --nats-url or NATS_URL") from None

    async def on_message(msg: Msg) -> None:
        try:
            event = parse_event(msg.data, msg.subject)
        except (ValidationError, ValueError):
            return
        if (campaign and event.campaign != campaign) or (not progress and isinstance(event, RunProgress)):
            return
        line = event_line(event)
        if line:
            out.print(line, highlight=False)

    try:
        for subject in STREAM_SUBJECTS:
            await nc.subscribe(subject, cb=on_message)
        await nc.flush()
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await nc.close()


def watch(
    nats_url: Annotated[str, typer.Option(envvar="NATS_URL", help="NATS server URL.")] = "nats://127.0.0.1:4222",
    campaign: Annotated[str | None, typer.Option("--campaign", help="Only this campaign (default: all).")] = None,
    progress: Annotated[bool, typer.Option(help="Show training step lines.")] = True,
) -> None:
    """Print events live from NATS, one line each, until Ctrl-C."""

    async def main() -> None:
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, stop.set)
        console.print(f"[dim]watching {campaign or 'all campaigns'} on {nats_url} (Ctrl-C to stop)[/]", highlight=False)
        await watch_events(nats_url, campaign, console, stop, progress)

    with _reported():
        asyncio.run(main())


@contextlib.contextmanager
def _reported():
    """Turn an ObserveError into one red line and exit code 1."""
    try:
        yield
    except ObserveError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add status, results, plot and watch to the autoresearch command line."""
    for command in (status, results, plot, watch):
        app.command()(command)
