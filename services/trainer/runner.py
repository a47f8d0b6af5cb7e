"""Running the train command: one process group, a hard wall-clock limit, a clean environment, a parsed summary."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from services.trainer.guard import Guard
from services.trainer.run_group import RunGroup
from services.trainer.run_record import RunRecord, clear_record, write_record
from services.trainer.shell import exec_form
from shared.events import LOG_TAIL_MAX, METRIC_NAME_MAX, METRIC_TEXT_MAX, METRICS_MAX, RunStatus, utc_now
from shared.processes import die_with_parent
from shared.settings import is_secret_name

log = structlog.get_logger("trainer")

LOG_TAIL_LINES = 50
LOG_READ_MAX = 1024 * 1024  # the summary block and the tail are at the end of the log
_STEP = re.compile(r"step\s+(\d+)(?:\s*\(\s*([\d.]+)%\s*\))?.*?loss:\s*([-+\d.eE]+|nan|inf)", re.IGNORECASE)

ProgressCallback = Callable[[int, float | None, float | None], Awaitable[None]]


@dataclass
class RunOutcome:
    """What one training run produced."""

    status: RunStatus
    exit_code: int | None
    metrics: dict[str, float | str]
    log_tail: str
    started_at: datetime
    finished_at: datetime = field(default_factory=utc_now)


def training_environment(base: dict[str, str], gpu: str | None) -> dict[str, str]:
    """The environment for a run: secrets and bus credentials removed, GPU pinned if asked."""
    env = {
        key: value for key, value in base.items()
        if not is_secret_name(key) and not key.startswith(("NATS_", "AUTORESEARCH_"))
    }
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def screen_lines(text: str) -> list[str]:
    """Lines as a terminal shows them: a carriage return overwrites the line so far."""
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]


def read_end(path: Path, size: int = LOG_READ_MAX) -> str:
    """The last `size` bytes of a log as text: a run may print gigabytes, the trainer reads a bounded end."""
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        file.seek(max(file.tell() - size, 0))
        return file.read().decode(errors="replace")


def parse_summary(text: str) -> dict[str, float | str]:
    """Every `key: value` line after the last line that is exactly '---', within the event's bounds."""
    lines = screen_lines(text)
    starts = [i for i, line in enumerate(lines) if line.strip() == "---"]
    if not starts:
        return {}
    metrics: dict[str, float | str] = {}
    for line in lines[starts[-1] + 1:]:
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or " " in key or not value or len(key) > METRIC_NAME_MAX:
            continue
        if len(metrics) >= METRICS_MAX and key not in metrics:
            break
        try:
            metrics[key] = float(value)
        except ValueError:
            metrics[key] = value[:METRIC_TEXT_MAX]
    return metrics


def last_step(text: str) -> tuple[int, float | None, float | None] | None:
    """The latest `step N (P%) | loss: L` progress seen in a log."""
    matches = list(_STEP.finditer(text[-4000:]))
    if not matches:
        return None
    step, percent, loss = matches[-1].groups()
    with contextlib.suppress(ValueError):
        return int(step), float(percent) if percent else None, float(loss)
    return int(step), float(percent) if percent else None, None


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log, as a terminal would show them, each cut to fit the event's bound."""
    shown = screen_lines(text)
    while shown and not shown[-1].strip():
        shown.pop()
    width = LOG_TAIL_MAX // lines - 1
    return "\n".join(line if len(line) <= width else line[:width - 1] + "…" for line in shown[-lines:])


def _kill_group(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the group of a leader not yet reaped (so its group id cannot have been given to anyone else)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def _end(process: asyncio.subprocess.Process, group: RunGroup | None) -> None:
    """Kill what is left of a run whose leader has been reaped, and wait until it is gone."""
    if group is None:
        _kill_group(process)
    else:
        await asyncio.to_thread(group.kill)


async def _watch_progress(log_path: Path, on_progress: ProgressCallback, every: float) -> None:
    seen: int | None = None
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(OSError):
            step = last_step(read_end(log_path, 4000))
            if step and step[0] != seen:
                seen = step[0]
                try:
                    await on_progress(*step)
                except Exception as exc:  # progress is best effort; the run goes on regardless
                    log.warning("progress not published", error=str(exc))


async def run_training(
    command: str, cwd: Path, timeout: float, env: dict[str, str], log_path: Path,
    on_progress: ProgressCallback | None = None, progress_every: float = 2.0,
    record: Path | None = None, experiment_id: str = "", commit: str = "",
) -> RunOutcome:
    """Run the train command with output in log_path; past timeout, or at the end, kill its whole process group.

    While it runs, the run is written down in `record` and watched by a guard, so that it dies with the
    trainer and a trainer started after this one can tell it is still there.
    """
    started = utc_now()
    status: RunStatus = "ok"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_shell(
            exec_form(command), cwd=cwd, env=env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
        )
    group = RunGroup.led_by(process.pid)  # None where there is no /proc: the group is then killed unchecked
    watcher, guard = None, None
    try:
        if group is not None:
            if record is not None:
                write_record(record, RunRecord(group.pgid, process.pid, group.leader_start, group.boot,
                                               started.isoformat(), experiment_id, commit, command))
            guard = await Guard.start(group)
        if on_progress:
            watcher = asyncio.create_task(_watch_progress(log_path, on_progress, progress_every))
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        status = "timeout"
        _kill_group(process)
        await process.wait()
    except BaseException:  # cancelled (the trainer is stopping), or the run could not be recorded or guarded
        _kill_group(process)
        await process.wait()
        raise
    finally:
        if watcher:
            watcher.cancel()
        await _end(process, group)  # stray children of a finished run die with it
        if record is not None:
            clear_record(record)
        if guard is not None:
            await guard.release()
    text = read_end(log_path)
    metrics = parse_summary(text)
    val_bpb = metrics.get("val_bpb")
    if status == "ok" and (process.returncode != 0 or not isinstance(val_bpb, float) or not math.isfinite(val_bpb)):
        status = "crash"
    return RunOutcome(status, process.returncode, metrics, tail(text), started)
