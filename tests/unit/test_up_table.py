"""`up`'s live table at 80 columns: one line a row, short experiment numbers, and why each crash crashed."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

from rich.cells import cell_len
from rich.console import Console

from autoresearch.display import describe
from autoresearch.views import LiveView, print_failed_baseline
from shared.events import RunFinished, RunProgress, RunStarted, VerdictDecided

CAMPAIGN, COMMIT = "karpathy-nov27", "c" * 40
IDS = dict(campaign=CAMPAIGN, producer="test/1")
NOW = datetime(2025, 11, 27, tzinfo=UTC)
LONG = "increase LEARNING_RATE from 0.0004 to 0.00056 and warm it up over the first tenth of the time budget"
MISSING = "ModuleNotFoundError: No module named 'kernels'"


def verdict(number: int, status: str, description: str = LONG, confirmations: int = 0) -> VerdictDecided:
    crashed = status == "crash"
    return VerdictDecided(**IDS, experiment_id=f"{CAMPAIGN}-{number:04d}", commit=COMMIT, status=status,
                          val_bpb=None if crashed else 0.9979 - number / 1e4, memory_gb=0.0 if crashed else 44.2,
                          best_after=0.9979, head=COMMIT, description=description, sigma=0.0012,
                          reason=f"crashed: {MISSING}" if crashed else "gain 0.000100 (+2.1σ̂)", confirmations=confirmations)


def screen(width: int = 80) -> tuple[LiveView, Console]:
    console = Console(file=StringIO(), width=width, force_terminal=True, record=True)
    return LiveView(console), console


def rendered(view: LiveView, console: Console) -> list[str]:
    console.print(view._render())
    return console.export_text().splitlines()


def test_at_80_columns_every_row_is_one_line_and_no_line_is_wider():
    view, console = screen()
    view.show(verdict(0, "keep", "baseline", confirmations=2))
    for number in range(1, 13):
        view.show(verdict(number, ("keep", "discard", "crash")[number % 3], LONG))
    view.show(RunStarted(**IDS, experiment_id=f"{CAMPAIGN}-0013", commit=COMMIT, description=LONG, command="uv run train.py"))
    view.show(RunProgress(**IDS, experiment_id=f"{CAMPAIGN}-0013", commit=COMMIT, step=120, percent=42.0, loss=3.2411))
    lines = rendered(view, console)
    assert max(cell_len(line) for line in lines) <= 80
    for number in range(13):
        [row] = [line for line in lines if line.startswith(f"#{number} ") or line.startswith(f" #{number} ")]
        assert ("…" in row) == (number > 0)  # long descriptions are cut on their one line, with an ellipsis
    assert CAMPAIGN not in "\n".join(lines[1:])  # numbers, not `<campaign>-0012`: the campaign is the title's
    rule = next(i for i, line in enumerate(lines) if line.startswith("───"))
    [bar] = [i for i, line in enumerate(lines) if line.startswith("#13 ")]
    assert len([line for line in lines[rule + 1:bar] if line.strip()]) == 13  # 13 rows, 13 lines: none wraps
    bar = lines[bar]
    assert "42.0%" in bar and "loss 3.2411" in bar


def test_a_crash_row_says_why_after_what_was_tried():
    for width, shown in ((80, "baseline — ModuleNotFoundError: No module"), (120, f"baseline — {MISSING}")):
        view, console = screen(width)
        view.show(verdict(0, "crash", "baseline"))
        view.show(verdict(1, "crash"))
        lines = rendered(view, console)
        [baseline] = [line for line in lines if line.startswith("#0 ")]
        assert shown in baseline and "crashed:" not in baseline  # the status column already says crash
        [change] = [line for line in lines if line.startswith("#1 ")]
        assert "increase LEARNING_RATE … — ModuleNotFound" in change  # its description cut short to leave room for why


def test_plain_lines_say_why_a_run_crashed_and_why_its_experiment_is_a_crash():
    run = RunFinished(**IDS, experiment_id=f"{CAMPAIGN}-0000", commit=COMMIT, status="crash", started_at=NOW,
                      finished_at=NOW, metrics={"crash_reason": "/bin/sh: 1: uv: not found"}, baseline=True)
    assert describe(run) == f"  {CAMPAIGN}-0000 run crash: /bin/sh: 1: uv: not found"
    line = describe(verdict(0, "crash", "baseline"))
    assert " baseline " in line and line.endswith(f" — {MISSING}")
    assert " — " not in describe(verdict(1, "discard"))  # a discard's reason stays in the verdict, not on the line


def test_a_failed_baseline_is_printed_with_the_end_of_its_log_and_what_to_do():
    out = StringIO()
    print_failed_baseline(Console(file=out, width=80), "/bin/sh: 1: [bold]uv: not found",
                          ["Installed 3 packages", "/bin/sh: 1: [bold]uv: not found"])
    text = out.getvalue()
    assert text.splitlines()[0] == "baseline failed: /bin/sh: 1: [bold]uv: not found"  # as written, never as markup
    assert "  Installed 3 packages" in text.splitlines()
    assert "--tag" in text
