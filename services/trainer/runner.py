"""Running the train command: a hard wall-clock limit, a clean environment, a parsed summary."""

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

from shared.events import RunStatus, utc_now
from shared.processes import die_with_parent

log = structlog.get_logger("trainer")

LOG_TAIL_LINES = 50
_SECRET = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|CREDS)", re.IGNORECASE)
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
        if not _SECRET.search(key) and not key.startswith(("NATS_", "AUTORESEARCH_"))
    }
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def screen_lines(text: str) -> list[str]:
    """Lines as a terminal shows them: a carriage return overwrites the line so far."""
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]


def parse_summary(text: str) -> dict[str, float | str]:
    """Every `key: value` line after the last line that is exactly '---'."""
    lines = screen_lines(text)
    starts = [i for i, line in enumerate(lines) if line.strip() == "---"]
    if not starts:
        return {}
    metrics: dict[str, float | str] = {}
    for line in lines[starts[-1] + 1:]:
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or " " in key or not value:
            continue
        try:
            metrics[key] = float(value)
        except ValueError:
            metrics[key] = value
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
    """The last lines of a log, as a terminal would show them."""
    shown = screen_lines(text)
    while shown and not shown[-1].strip():
        shown.pop()
    return "\n".join(shown[-lines:])


def _kill_group(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


async def _watch_progress(log_path: Path, on_progress: ProgressCallback, every: float) -> None:
    seen: int | None = None
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(OSError):
            step = last_step(log_path.read_text(errors="replace"))
            if step and step[0] != seen:
                seen = step[0]
                try:
                    await on_progress(*step)
                except Exception as exc:  # progress is best effort; the run goes on regardless
                    log.warning("progress not published", error=str(exc))


async def run_training(
    command: str, cwd: Path, timeout: float, env: dict[str, str], log_path: Path,
    on_progress: ProgressCallback | None = None, progress_every: float = 2.0,
) -> RunOutcome:
    """Run the train command with output in log_path; kill its whole process group past timeout."""
    started = utc_now()
    status: RunStatus = "ok"
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_shell(
            command, cwd=cwd, env=env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
        )
    watcher = asyncio.create_task(_watch_progress(log_path, on_progress, progress_every)) if on_progress else None
    try:
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        status = "timeout"
        _kill_group(process)
        await process.wait()
    except asyncio.CancelledError:
        _kill_group(process)
        await process.wait()
        raise
    finally:
        if watcher:
            watcher.cancel()
        _kill_group(process)  # stray children of a finished run die with it
    text = log_path.read_text(errors="replace")
    metrics = parse_summary(text)
    val_bpb = metrics.get("val_bpb")
    if status == "ok" and (process.returncode != 0 or not isinstance(val_bpb, float) or not math.isfinite(val_bpb)):
        status = "crash"
    return RunOutcome(status, process.returncode, metrics, tail(text), started)
