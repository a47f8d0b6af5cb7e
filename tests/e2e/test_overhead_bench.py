"""bench/overhead.py: `up` against the bash loop on the same edits, every row of its tables printed with figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from overhead_report import HISTORY_ROWS, ROWS, gaps, last_run_to_exit, orchestration_cpu  # noqa: E402
from overhead_runs import Side  # noqa: E402

NUMBER = re.compile(r"\d+(\.\d+)?")


def cells(output: str, label: str) -> list[str]:
    """The cells after the label of the table row that starts with it."""
    for line in output.splitlines():
        if line.startswith(f"| {label} |"):
            return [cell.strip() for cell in line.strip().strip("|").split("|")[1:]]
    raise AssertionError(f"no row {label!r} in:\n{output}")


def test_figures_come_from_the_runs_own_notes() -> None:
    runs = [{"start": 10.0, "end": 12.0, "cpu": 0.5}, {"start": 12.25, "end": 14.0, "cpu": 0.25},
            {"start": 14.5, "end": 16.0, "cpu": 0.25}]
    side = Side("la1", launched=9.0, exited=16.75, returncode=0, cpu=3.0, runs=runs[::-1], rows=[])

    assert gaps(side) == [0.25, 0.5]
    assert last_run_to_exit(side) == 0.75
    assert orchestration_cpu(side) == 2.0


def test_quick_round_prints_every_row_with_numbers() -> None:
    done = subprocess.run([sys.executable, str(BENCH / "overhead.py"), "--quick", "--lookahead", "1"],
                          capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "load average" in done.stdout
    assert "same verdicts as the bash loop in every pair: yes" in done.stdout
    header = cells(done.stdout, "figure")
    assert header[:2] == ["lookahead 1", "bash loop"], header
    for _, label in ROWS:
        row = cells(done.stdout, label)
        assert NUMBER.search(row[0]) and "nan" not in row[0], (label, row)  # every row has `up`'s figure
    for label in ("wall time, launch → exit", "launch → baseline run starts", "gap between runs p50 / p90 / p99",
                  "CPU seconds of the orchestration", "duty, first run's start → last run's end"):
        assert NUMBER.search(cells(done.stdout, label)[1]), label  # and the bash loop's, where it has one
    for _, label in HISTORY_ROWS:
        figure = cells(done.stdout, label)[0]
        assert re.fullmatch(r"\d+\.\d ms", figure), (label, figure)
    assert re.search(r"`up`'s checks before it starts \(autoresearch doctor\): \d+\.\d\d s", done.stdout)
