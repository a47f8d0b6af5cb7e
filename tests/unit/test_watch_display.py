"""What `up` shows while a campaign runs: plain lines off a terminal, a live table on one."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

from rich.console import Console

from autoresearch.watch import CampaignWatcher, LiveView
from shared.events import RunProgress, RunStarted, VerdictDecided

IDS = dict(campaign="nov27", producer="test/1")
COMMIT = "c" * 40


def verdict(number: int, status: str, val_bpb: float | None, best: float) -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=f"nov27-{number:04d}", commit=COMMIT, status=status, val_bpb=val_bpb,
                          best_after=best, head=COMMIT, description=f"change {number}")


def progress(percent: float) -> RunProgress:
    return RunProgress(**IDS, experiment_id="nov27-0001", commit=COMMIT, step=int(percent), percent=percent, loss=3.5)


def test_plain_lines_show_each_verdict_and_a_progress_line_per_quarter() -> None:
    out = StringIO()
    watcher = CampaignWatcher("nats://unused", "nov27", Console(file=out, force_terminal=False, width=200))
    assert watcher.view is None
    watcher._show_plain(RunStarted(**IDS, experiment_id="nov27-0001", commit=COMMIT, description="change 1", command="x"))
    for percent in (1.0, 10.0, 26.0, 30.0, 55.0, 99.0):
        watcher._show_plain(progress(percent))
    watcher._show_plain(verdict(1, "discard", 1.01, 1.0))
    lines = out.getvalue().splitlines()
    assert [line for line in lines if " step " in line] == [
        "  nov27-0001 step 1 (1%) loss 3.5000", "  nov27-0001 step 26 (26%) loss 3.5000",
        "  nov27-0001 step 55 (55%) loss 3.5000", "  nov27-0001 step 99 (99%) loss 3.5000",
    ]
    assert any("discard" in line and "change 1" in line for line in lines)


def test_live_table_lists_verdicts_with_the_best_so_far() -> None:
    out = StringIO()
    view = LiveView(Console(file=out, force_terminal=True, width=200))
    view.verdict(verdict(0, "keep", 1.0, 1.0))
    view.verdict(verdict(1, "crash", None, 1.0))
    view.run_started(RunStarted(**IDS, experiment_id="nov27-0002", commit=COMMIT, description="change 2", command="x"))
    view.progress(progress(40.0))
    console = Console(file=StringIO(), width=200, record=True)
    console.print(view._render())
    text = console.export_text()
    assert "best val_bpb 1.000000" in text
    assert "nov27-0001" in text and "crash" in text and "change 1" in text
    assert "nov27-0002 change 2" in text and "40.0%" in text
    view.run_ended()
    console = Console(file=StringIO(), width=200, record=True)
    console.print(view._render())
    assert "nov27-0002 change 2" not in console.export_text()
