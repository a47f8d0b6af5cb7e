"""How a campaign reads on the console: one line per event, the verdict table, the summary lines.

Descriptions, reasons and logs come from a model and from train.py: every one of them goes through
`shown` (no control characters, rich markup escaped) or into a Text cell, so that it prints as it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shared.events import (
    CampaignFinished, CampaignStarted, CommitMade, CommitStale, ConfirmationRequested, Event, ProposalCreated,
    ProposalExhausted, ProposalRejected, RunFinished, RunProgress, RunStarted, VerdictDecided,
)
from shared.text import printable

STATUS_STYLE = {"keep": "green", "discard": "yellow", "crash": "red"}
CRASH_DESCRIPTION = 24  # characters of a crashed experiment's description before its reason


def shown(text: str) -> str:
    """Untrusted text made ready for a markup line: one line, no control characters, brackets escaped."""
    return escape(printable(text))


def number(experiment_id: str) -> str:
    """'#12' for nov27-0012: the campaign is in the title, the number is what tells rows apart."""
    campaign, _, digits = experiment_id.rpartition("-")
    return f"#{int(digits)}" if campaign and digits.isdigit() else shown(experiment_id)


def crash_note(status: str, reason: str | None) -> str:
    """Why a failed run or experiment failed, without the 'crashed: ' its status already says; '' for the rest."""
    if status in ("ok", "keep", "discard") or not reason:
        return ""
    return printable(reason).removeprefix("crashed: ")


def run_label(repeat: int, kept_state: bool) -> str:
    """'(run 2)' for a confirmation run, 'kept state (run 2)' for a re-run of the kept state; '' for a first run."""
    run = f"(run {repeat + 1})" if repeat else ""
    return f"kept state {run}".strip() if kept_state else run


def describe(event: Event) -> str | None:
    """One line for an event a person watching wants to see; None for the rest (e.g. proposal tickets)."""
    exp = event.experiment_id
    if isinstance(event, CampaignStarted):
        return f"campaign [bold]{event.campaign}[/] on {shown(event.branch)} from {event.base_commit[:7]}"
    if isinstance(event, ProposalCreated):
        return f"[dim]proposed[/] {exp} {shown(event.description)}"
    if isinstance(event, ProposalRejected):
        return f"[magenta]rejected[/] {exp}: {shown(event.reason)}"
    if isinstance(event, ProposalExhausted):
        return f"[magenta]exhausted[/] {exp} from {event.base_commit[:7]}: {shown(event.reason)}"
    if isinstance(event, CommitMade):
        return f"[dim]committed[/] {exp} {event.commit[:7]} +{event.lines_added} -{event.lines_removed}"
    if isinstance(event, CommitStale):
        return f"[dim]stale[/] {exp} {event.commit[:7]}, re-applying on {event.head[:7]}"
    if isinstance(event, RunStarted):
        return f"[cyan]▶ {exp}[/] {event.commit[:7]} {shown(event.description)}"
    if isinstance(event, RunProgress):
        percent = f" ({event.percent:.0f}%)" if event.percent is not None else ""
        loss = f" loss {event.loss:.4f}" if event.loss is not None else ""
        return f"  {exp} step {event.step}{percent}{loss}"
    if isinstance(event, RunFinished):
        value = event.metrics.get("val_bpb")
        which = run_label(event.repeat, event.kept_state)
        said = event.metrics.get("crash_reason")
        why = crash_note(event.status, said if isinstance(said, str) else None)
        return f"  {exp} run {event.status}" + (f" {which}" if which else "") + (
            f" val_bpb={value:.6f}" if isinstance(value, float) else "") + (f": {escape(why)}" if why else "")
    if isinstance(event, ConfirmationRequested):
        sigma = f" σ̂={event.sigma:.6f}" if event.sigma is not None else ""
        what = "kept state" if event.kept_state else shown(event.description) or ("baseline" if event.baseline else "-")
        return f"[blue]confirming[/] {exp} {event.commit[:7]} {what} (run {event.repeat + 1}){sigma}"
    if isinstance(event, VerdictDecided):
        best = f" best={event.best_after:.6f}" if event.best_after is not None else ""
        runs = f" runs={event.confirmations + 1}" if event.confirmations else ""
        sigma = f" σ̂={event.sigma:.6f}" if event.sigma is not None else ""
        why = crash_note(event.status, event.reason)
        return (f"[{STATUS_STYLE[event.status]}]{event.status:>7}[/] {exp} {event.commit[:7]} "
                f"{shown(event.description)}{best}{runs}{sigma}" + (f" — {escape(why)}" if why else ""))
    if isinstance(event, CampaignFinished):
        why = f": {shown(event.reason)}" if event.reason else ""
        return f"campaign {event.campaign} finished after {event.experiments} experiments{why}"
    return None


def duration(seconds: float | None) -> str:
    """1h 02m, 3m 04s, 12s."""
    if seconds is None:
        return "–"
    s = round(seconds)
    return f"{s // 3600}h {s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


def bpb(value: float | None) -> str:
    """val_bpb to 6 decimals, a dash when there is none."""
    return "–" if value is None else f"{value:.6f}"


def verdict_table(rows: Sequence[Mapping[str, Any]], title: str) -> Table:
    """Decided experiments as a table coloured by status; rows carry the fields of VerdictDecided (or the API's experiments).

    One line a row at any width (80 columns included): the experiment's number, its description cut with an ellipsis,
    and for a crash why. Once any experiment took confirmation runs, a runs column counts every run of each (val_bpb
    is the mean of its change's).
    """
    runs = [1 + (row.get("confirmations") or 0) for row in rows]
    columns = ("#", "commit", "val_bpb", "GB") + (("runs",) if any(n > 1 for n in runs) else ()) + ("status",)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  padding=(0, 1), collapse_padding=True, min_width=cell_len(title))  # a title wraps only past the screen
    for name in columns:
        table.add_column(name, no_wrap=True, justify="right" if name in ("#", "val_bpb", "GB", "runs") else "left")
    table.add_column("description", overflow="ellipsis")  # the one column that gives way: it shrinks, never wraps
    for row, count in zip(rows, runs, strict=True):
        memory = "0.0" if row["status"] == "crash" else f"{row['memory_gb'] or 0:.1f}"
        cells = [number(row["experiment_id"]), (row["commit"] or "")[:7], bpb(row["val_bpb"]), memory]
        cells += [str(count)] if "runs" in columns else []
        what = printable(row["description"])
        if why := crash_note(row["status"], row.get("reason")):  # what was tried, short, then why it failed
            what = (what if len(what) <= CRASH_DESCRIPTION else what[:CRASH_DESCRIPTION - 1] + "…") + f" — {why}"
        description = Text(what, no_wrap=True, overflow="ellipsis")
        table.add_row(*cells, shown(row["status"]), description, style=STATUS_STYLE.get(row["status"], ""))
    return table


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The ledger's campaign summary in a few lines: state, counts, running run, confirmation asked for, noise, best so far."""
    counts = summary["counts"]
    state = summary.get("state") or ("finished" if summary["finished"] else "training" if summary["running"] else "waiting")
    idle = f"{summary['idle_share'] * 100:.1f}%" if summary["idle_share"] is not None else "–"
    lines = [
        f"campaign [bold]{summary['campaign']}[/] · {state} · {summary['experiments_total']} decided "
        f"([green]{counts['keep']} kept[/], [yellow]{counts['discard']} discarded[/], [red]{counts['crash']} crashed[/], "
        f"{counts['rejected']} rejected) · wall {duration(summary['wall_seconds'])} · trainer idle {idle}"
    ]
    if summary.get("finish_reason"):
        lines.append(f"ended    {shown(summary['finish_reason'])}")
    run = summary["running"]
    if run:
        percent = run["percent"]
        bar = "█" * round((percent or 0) / 10) + "░" * (10 - round((percent or 0) / 10))
        figures = " ".join(part for part in (
            f"{percent:.1f}%" if percent is not None else "starting",
            f"step {run['step']}" if run["step"] is not None else "",
            f"loss {run['loss']:.4f}" if run["loss"] is not None else "",
        ) if part)
        which = run_label(run.get("repeat", 0), run.get("kept_state", False))
        what = f"{shown(run['experiment_id'])} {run['commit'][:7]} {shown(run['description'])}" + (f" {which}" if which else "")
        lines.append(f"[cyan]running[/]  {what}  {bar} {figures} · {duration(run['elapsed_seconds'])}")
    else:
        lines.append("[dim]no run in progress[/]")
    asked = summary.get("confirming")
    if asked:
        what = "kept state" if asked["kept_state"] else shown(asked["description"])
        why = f": {shown(asked['reason'])}" if asked["reason"] else ""
        lines.append(f"[blue]confirming[/] {shown(asked['experiment_id'])} {what} (run {asked['run_number']}){why}")
    lines.append(noise_line(summary))
    if summary["best_val_bpb"] is not None:
        gain = summary["improvement_percent"]
        versus = f" ({gain:.2f}% below baseline {bpb(summary['baseline_val_bpb'])})" if gain is not None else ""
        what = f"{summary['best_commit'][:7]} {shown(summary['best_description'] or '')}"
        lines.append(f"[green]best[/]     {bpb(summary['best_val_bpb'])}{versus} {what}")
    lines.append(f"trend    {summary.get('trajectory', 'starting')}")
    tokens_in, tokens_out = summary.get("proposal_input_tokens", 0), summary.get("proposal_output_tokens", 0)
    if tokens_in or tokens_out:
        cost = f" · cost {summary['proposal_cost']:.4f}" if summary.get("proposal_cost") is not None else ""
        lines.append(f"proposer {tokens_in:,} tokens in, {tokens_out:,} out{cost}")
    return lines


def noise_line(summary: dict[str, Any]) -> str:
    """σ̂, the keep rule and the confirmation runs so far."""
    sigma = summary.get("sigma")
    rule = f" · keep rule {shown(summary['keep_rule'])}" if summary.get("keep_rule") else ""
    return (f"noise    σ̂ {'–' if sigma is None else f'{sigma:.6f}'}{rule} · "
            f"{summary.get('confirmation_runs', 0)} confirmation runs of {summary.get('runs_total', 0)}")
