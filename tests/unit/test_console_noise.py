"""The console during a campaign under noise: confirmation runs as they happen, σ̂, and untrusted text shown as text."""

from __future__ import annotations

from io import StringIO

from rich.console import Console

from autoresearch.display import summary_lines
from autoresearch.views import EventLines, LiveView
from shared.events import ConfirmationRequested, RunFinished, RunProgress, RunStarted, VerdictDecided
from tests.ledger_support import at

IDS = dict(campaign="nov27", producer="test/1")
CHANGE, TIP = "c" * 40, "d" * 40
HOSTILE = "\x1b]0;owned\x07wipe \x1b[2J\x9b31mscreen"


def verdict(number: int, description: str, confirmations: int = 0, sigma: float | None = None) -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=f"nov27-{number:04d}", commit=CHANGE, status="keep", val_bpb=0.99,
                          best_after=0.99, head=CHANGE, description=description, confirmations=confirmations, sigma=sigma,
                          runs=confirmations + 1)


def asked(repeat: int, kept_state: bool = False) -> ConfirmationRequested:
    return ConfirmationRequested(**IDS, experiment_id="nov27-0001", commit=TIP if kept_state else CHANGE, repeat=repeat,
                                 kept_state=kept_state, description="kept state" if kept_state else "warmup 5%",
                                 sigma=0.0021, reason="too close to call")


def started(commit: str = CHANGE, description: str = "warmup 5%") -> RunStarted:
    return RunStarted(**IDS, experiment_id="nov27-0001", commit=commit, description=description, command="x")


def finished(repeat: int, kept_state: bool = False) -> RunFinished:
    return RunFinished(**IDS, experiment_id="nov27-0001", commit=TIP if kept_state else CHANGE, status="ok",
                       metrics={"val_bpb": 0.99}, started_at=at(0), finished_at=at(10), repeat=repeat, kept_state=kept_state)


def live_view() -> tuple[LiveView, StringIO]:
    out = StringIO()
    return LiveView(Console(file=out, force_terminal=True, width=200)), out


def rendered(renderable) -> str:
    console = Console(file=StringIO(), width=200, record=True)
    console.print(renderable)
    return console.export_text()


def test_live_table_shows_descriptions_that_look_like_markup_as_they_are() -> None:
    view, _ = live_view()
    view.show(verdict(1, "close [/] early"))
    view.show(verdict(2, "[bold never closed"))
    view.show(started(description="[/] [red]"))

    text = rendered(view._render())

    assert "close [/] early" in text and "[bold never closed" in text and "[/] [red]" in text


def test_plain_lines_carry_no_terminal_sequence() -> None:
    out = StringIO()
    view = EventLines(Console(file=out, force_terminal=False, width=300))
    view.show(started(description="lr \x9b2Jup"))
    view.show(verdict(1, HOSTILE))

    text = out.getvalue()
    assert "wipe screen" in text and "lr up" in text
    assert not any(ord(char) < 0x20 and char != "\n" or 0x7f <= ord(char) <= 0x9f for char in text)


def test_plain_lines_show_each_confirmation_run_as_it_is_asked_for() -> None:
    out = StringIO()
    view = EventLines(Console(file=out, width=200))
    for event in (asked(1), finished(1), asked(1, kept_state=True), finished(1, kept_state=True), verdict(1, "warmup 5%", 2, 0.0021)):
        view.show(event)

    lines = out.getvalue().splitlines()
    assert lines[0] == "confirming nov27-0001 ccccccc warmup 5% (run 2) σ̂=0.002100"
    assert lines[1] == "  nov27-0001 run ok (run 2) val_bpb=0.990000"
    assert lines[2].startswith("confirming nov27-0001 ddddddd kept state (run 2)")
    assert "kept state (run 2)" in lines[3]
    assert lines[4].endswith("runs=3 σ̂=0.002100")


def test_live_view_counts_confirmation_runs_and_shows_sigma_and_which_run_trains() -> None:
    view, out = live_view()
    view.show(verdict(0, "baseline", 2, 0.0021))
    view.show(asked(1))
    view.show(started())
    view.show(RunProgress(**IDS, experiment_id="nov27-0001", commit=CHANGE, step=5, percent=50.0, loss=2.0))

    during = rendered(view._render())
    view.show(finished(1))

    assert "confirming\x1b[0m nov27-0001 ccccccc warmup 5% (run 2)" in out.getvalue()  # a line above the table
    assert "#1 warmup 5% (run 2)" in during and "σ̂ 0.002100" in during
    assert "1 confirmation runs" in rendered(view._render()) and "1 confirmation runs" not in during
    cells = next(line for line in during.splitlines() if line.startswith("#0 ")).split()
    assert cells[4] == "3"  # the runs column: the baseline and its two confirmation runs


def test_status_lines_say_confirming_with_sigma_and_keep_untrusted_text_as_text() -> None:
    summary = {
        "campaign": "nov27", "state": "confirming", "finished": False, "experiments_total": 1, "idle_share": None,
        "counts": {"keep": 1, "discard": 0, "crash": 0, "rejected": 0}, "wall_seconds": 100.0, "running": None,
        "confirming": {"experiment_id": "nov27-0001", "description": "[/]" + HOSTILE, "kept_state": False, "run_number": 2,
                       "reason": "[bold too close", "repeat": 1, "commit": CHANGE},
        "sigma": 0.0021, "keep_rule": "sprt", "confirmation_runs": 2, "runs_total": 5, "best_val_bpb": 1.0,
        "improvement_percent": 0.0, "baseline_val_bpb": 1.0, "best_commit": CHANGE, "best_description": "[/]",
    }
    out = StringIO()
    console = Console(file=out, force_terminal=False, width=300)
    for line in summary_lines(summary):
        console.print(line, highlight=False, soft_wrap=True)

    text = out.getvalue()
    assert "· confirming ·" in text
    assert "confirming nov27-0001 [/]wipe screen (run 2): [bold too close" in text
    assert "noise    σ̂ 0.002100 · keep rule sprt · 2 confirmation runs of 5" in text
    assert "\x1b" not in text and "\x9b" not in text
