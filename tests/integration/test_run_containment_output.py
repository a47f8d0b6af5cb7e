"""A run's output cannot exhaust the trainer: run.log stays under its cap, its start and end kept, progress still seen."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from services.trainer.run_log import RunLog
from services.trainer.runner import LOG_READ_MAX, run_training

MB = 1024 * 1024
# 200 MB in 1 MiB blocks between a first line and a progress line, then the summary.
FLOOD = """\
import os, sys, time
print("first line", flush=True)
block = b"x" * (1024 * 1024 - 1) + b"\\n"
for _ in range(200):
    os.write(1, block)
os.write(1, b"\\rstep 00007 (70.0%) | loss: 1.250000\\n")
time.sleep(0.5)
print("---")
print("val_bpb: 0.750000")
print("peak_vram_mb: 12.5")
"""


def test_output_under_the_cap_is_written_whole(tmp_path: Path):
    log = RunLog(tmp_path / "run.log", cap=10_000, end=2_000)
    for piece in (b"a" * 3_000, b"b" * 3_000, b"---\nval_bpb: 1.0\n"):
        log.write(piece)
    log.close()
    assert (tmp_path / "run.log").read_bytes() == b"a" * 3_000 + b"b" * 3_000 + b"---\nval_bpb: 1.0\n"


def test_output_over_the_cap_keeps_its_start_and_end_and_says_what_was_left_out(tmp_path: Path):
    log = RunLog(tmp_path / "run.log", cap=10_000, end=2_000)
    pieces = [b"first line\n", *[b"y" * 1_000] * 50, b"\n---\nval_bpb: 0.5\n"]
    for piece in pieces:
        log.write(piece)
    log.close()
    data = (tmp_path / "run.log").read_bytes()
    assert len(data) <= 10_000
    assert data.startswith(b"first line\n") and data.endswith(b"\n---\nval_bpb: 0.5\n")
    gap = next(line for line in data.split(b"\n") if line.startswith(b"[run.log cut here: "))
    assert int(gap.split()[3]) == sum(map(len, pieces)) - (len(data) - len(gap) - 2)  # every byte kept or counted


def test_the_latest_output_is_seen_whatever_was_dropped(tmp_path: Path):
    log = RunLog(tmp_path / "run.log", cap=1_000, end=200)
    log.write(b"z" * 100_000 + b"\rstep 3 | loss: 2.0")
    assert log.recent(4000).endswith("step 3 | loss: 2.0")
    log.close()


async def test_a_run_printing_200_mb_leaves_a_capped_log_whose_summary_and_progress_are_read(tmp_path: Path):
    (tmp_path / "flood.py").write_text(FLOOD)
    seen: list[tuple[int, float | None, float | None]] = []

    async def on_progress(step: int, percent: float | None, loss: float | None) -> None:
        seen.append((step, percent, loss))

    outcome = await run_training(f"{sys.executable} flood.py", tmp_path, 60, {"PATH": os.environ["PATH"]},
                                 tmp_path / "run.log", on_progress, progress_every=0.05, log_cap=4 * MB)
    size = (tmp_path / "run.log").stat().st_size
    assert size <= 4 * MB
    assert outcome.status == "ok", outcome.log_tail
    assert outcome.metrics == {"val_bpb": 0.75, "peak_vram_mb": 12.5}
    assert (7, 70.0, 1.25) in seen  # printed after run.log's head was full
    with (tmp_path / "run.log").open("rb") as log:
        assert log.readline() == b"first line\n"
    assert size > LOG_READ_MAX  # the head was kept, not only the end
