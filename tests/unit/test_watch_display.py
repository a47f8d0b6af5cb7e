"""What `up` and `watch` show while a campaign runs: plain lines off a terminal, a live table on one."""

from __future__ import annotations

import re
from io import StringIO

from rich.console import Console

from autoresearch.display import describe, verdict_table
from autoresearch.views import EventLines, LiveView, campaign_view
from shared.events import ProposalRequested, RunProgress, RunStarted, VerdictDecided

IDS = dict(campaign="nov27", producer="test/1")
COMMIT = "c" * 40


def verdict(number: int, status: str, val_bpb: float | None, best: float) -> VerdictDecided:
    return VerdictDecided(**IDS, experiment_id=f"nov27-{number:04d}", commit=COMMIT, status=status, val_bpb=val_bpb,
                          best_after=best, head=COMMIT, description=f"change {number}")


def progress(percent: float) -> RunProgress:
    return RunProgress(**IDS, experiment_id="nov27-0001", commit=COMMIT, step=int(percent), percent=percent, loss=3.5)


def started(number: int) -> RunStarted:
    return RunStarted(**IDS, experiment_id=f"nov27-{number:04d}", commit=COMMIT, description=f"change {number}", command="x")


def rendered(renderable) -> str:
    console = Console(file=StringIO(), width=200, record=True)
    console.print(renderable)
    return console.export_text()


def test_plain_lines_show_each_verdict_and_a_progress_line_per_quarter() -> None:
    out = StringIO()
    view = campaign_view(Console(file=out, force_terminal=False, width=200))
    assert isinstance(view, EventLines)
    view.show(started(1))
    for percent in (1.0, 10.0, 26.0, 30.0, 55.0, 99.0):
        view.show(progress(percent))
    view.show(verdict(1, "discard", 1.01, 1.0))
    lines = out.getvalue().splitlines()
    assert [line for line in lines if " step " in line] == [
        "  nov27-0001 step 1 (1%) loss 3.5000", "  nov27-0001 step 26 (26%) loss 3.5000",
        "  nov27-0001 step 55 (55%) loss 3.5000", "  nov27-0001 step 99 (99%) loss 3.5000",
    ]
    assert any("discard" in line and "change 1" in line for line in lines)


def test_plain_lines_start_the_quarters_again_for_the_next_run() -> None:
    out = StringIO()
    view = EventLines(Console(file=out, width=200))
    view.show(progress(60.0))
    view.show(started(2))
    view.show(progress(10.0))
    assert [line for line in out.getvalue().splitlines() if " step " in line] == [
        "  nov27-0001 step 60 (60%) loss 3.5000", "  nov27-0001 step 10 (10%) loss 3.5000",
    ]


def test_watch_lines_carry_the_time_and_every_step_or_none() -> None:
    every, none = StringIO(), StringIO()
    for out, wanted in ((every, "all"), (none, "none")):
        view = EventLines(Console(file=out, width=200), progress=wanted, timestamps=True)
        for percent in (1.0, 2.0, 3.0):
            view.show(progress(percent))
        view.show(verdict(1, "keep", 0.9, 0.9))
    lines = every.getvalue().splitlines()
    assert len(lines) == 4 and all(re.match(r"\d\d:\d\d:\d\d ", line) for line in lines)
    assert none.getvalue().count("\n") == 1 and "keep nov27-0001" in none.getvalue()


def test_describe_leaves_out_proposal_tickets() -> None:
    ticket = ProposalRequested(**IDS, experiment_id="nov27-0003", base_commit=COMMIT, sequence=3)
    assert describe(ticket) is None


def test_verdict_table_shows_a_crash_without_figures() -> None:
    text = rendered(verdict_table([verdict(1, "keep", 0.98, 0.98).model_dump(), verdict(2, "crash", None, 0.98).model_dump()], "t"))
    crash_row = next(line for line in text.splitlines() if line.startswith("#2 "))
    assert "–" in crash_row and "0.0" in crash_row and "0.980000" not in crash_row
    assert "0.980000" in next(line for line in text.splitlines() if line.startswith("#1 "))


def test_live_table_lists_verdicts_with_the_best_so_far() -> None:
    view = LiveView(Console(file=StringIO(), force_terminal=True, width=200))
    view.show(verdict(0, "keep", 1.0, 1.0))
    view.show(verdict(1, "crash", None, 1.0))
    view.show(started(2))
    view.show(progress(40.0))
    text = rendered(view._render())
    assert "best val_bpb 1.000000" in text
    assert "#1" in text and "crash" in text and "change 1" in text
    assert "#2 change 2" in text and "40.0%" in text
    view.run_ended()
    assert "#2 change 2" not in rendered(view._render())


def test_results_rows_printed_off_a_terminal_are_never_wrapped(tmp_path):
    from autoresearch.views import print_results

    results = tmp_path / "results.tsv"
    long = "increase LEARNING_RATE from 0.0004 to 0.00056 and warm it up over the first tenth of the budget"
    results.write_text(f"commit\tval_bpb\tmemory_gb\tstatus\tdescription\naaaaaaa\t1.000000\t0.5\tkeep\t{long}\n")
    out = StringIO()
    print_results(Console(file=out, width=60), results, rows=True)
    assert out.getvalue().splitlines()[1] == f"aaaaaaa\t1.000000\t0.5\tkeep\t{long}"
