"""Running the train command: every process it starts held and killed, a hard wall-clock limit, a bounded log, a parsed summary."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import sys
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog

from services.trainer.containment import Isolation
from services.trainer.guard import Guard
from services.trainer.launch import launch
from services.trainer.provenance import MetricWitness, refusal, refused
from services.trainer.run_log import LOG_CAP, LOG_END_KEPT, RunLog
from services.trainer.run_record import RunRecord, clear_record, write_record
from shared.events import LOG_TAIL_MAX, METRIC_NAME_MAX, METRIC_TEXT_MAX, METRICS_MAX, RunStatus, utc_now
from shared.settings import is_secret_name

log = structlog.get_logger("trainer")

LOG_TAIL_LINES = 50
LOG_READ_MAX = LOG_END_KEPT  # the summary block and the tail are at the end of the log: only that much is read back
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
    isolation: str = ""  # how the run was held, e.g. pid-namespace+cgroup-v2 (see containment.py)


# What a run gets from the trainer's environment: a shell's basics, the accelerator's and the math libraries'
# settings, Python's and uv's own, and where caches live; a name that says it holds a secret only if passed by name.
# Left out on purpose: PYTHONPATH and PYTHONSTARTUP (code from outside the room), PYTHONPYCACHEPREFIX (compiled
# code one run could leave for the next), and everything else, the bus's and the LLM's settings included.
RUN_ENV_NAMES = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR", "SHELL", "VIRTUAL_ENV",
    "XDG_CACHE_HOME", "HF_HOME", "HF_HUB_CACHE", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_CACHE", "OPENBLAS_NUM_THREADS", "LD_LIBRARY_PATH",
})
RUN_ENV_PREFIXES = (
    "LC_", "CUDA_", "NVIDIA_", "ROCM_", "HIP_", "HSA_", "NCCL_", "OMP_", "MKL_", "KMP_", "TORCH_", "PYTORCH_",
    "TRITON_", "PYTHON", "UV_",
)
RUN_ENV_REFUSED = frozenset({"PYTHONPATH", "PYTHONSTARTUP", "PYTHONPYCACHEPREFIX"})


def training_environment(base: dict[str, str], gpu: str | None, pass_env: Iterable[str] = ()) -> dict[str, str]:
    """The environment for a run: only the allowed names of base, plus those named in pass_env; GPU pinned if asked."""
    passed = set(pass_env)
    env = {
        key: value for key, value in base.items()
        if key in passed or (
            (key in RUN_ENV_NAMES or key.startswith(RUN_ENV_PREFIXES))
            and key not in RUN_ENV_REFUSED and not is_secret_name(key)
        )
    }
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpu
    return env


def run_path(path: str | None) -> str:
    """A run's PATH: its own folders first, so they win, then the trainer's interpreter's folder.

    The `uv` that comes with autoresearch lives beside the trainer's interpreter, in a virtual environment's bin
    that its user need not have put on PATH; `autoresearch doctor` finds programs by this same rule.
    """
    base = os.defpath if path is None else path
    tools = str(Path(sys.executable).parent)
    if tools in base.split(os.pathsep):
        return base
    return f"{base}{os.pathsep}{tools}" if base else tools


def screen_lines(text: str) -> list[str]:
    """Lines as a terminal shows them: a carriage return overwrites the line so far."""
    return [line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n")]


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


async def _watch_progress(output: RunLog, on_progress: ProgressCallback, every: float) -> None:
    seen: int | None = None
    while True:
        await asyncio.sleep(every)
        with contextlib.suppress(OSError):
            step = last_step(output.recent(4000))  # what the run printed last, whatever run.log had to drop
            if step and step[0] != seen:
                seen = step[0]
                try:
                    await on_progress(*step)
                except Exception as exc:  # progress is best effort; the run goes on regardless
                    log.warning("progress not published", error=str(exc))


async def run_training(
    command: str, cwd: Path, timeout: float, env: dict[str, str], log_path: Path,
    on_progress: ProgressCallback | None = None, progress_every: float = 2.0,
    record: Path | None = None, experiment_id: str = "", commit: str = "", evaluation: str | None = None,
    isolation: Isolation | None = None, log_cap: int = LOG_CAP,
) -> RunOutcome:
    """Run the train command with output in log_path; past timeout, or at the end, kill every process it started.

    The run is held as `isolation` says (by default its process group and a reaper: containment.py); its
    output reaches log_path through the trainer, which writes at most log_cap bytes (run_log.py). While it
    runs, the run is written down in `record` and watched by a guard, so that it dies with the
    trainer and a trainer started after this one can tell it is still there. With `evaluation`
    ("module:function"), val_bpb counts only if that function returned it in the run (services/trainer/provenance.py).
    """
    started = utc_now()
    status: RunStatus = "ok"
    isolation = isolation or Isolation()
    witness = MetricWitness(evaluation)
    output = RunLog(log_path, log_cap)
    try:
        env = {**env, "PATH": run_path(env.get("PATH"))}
        run = await launch(command, cwd, witness.environment(env), output, isolation, witness.pass_fds)
    except BaseException:
        witness.close()
        output.close()
        raise
    process = run.process
    witness.start()
    watcher, guard = None, None
    try:
        if run.tree is not None:
            if record is not None:
                write_record(record, RunRecord.of(run.tree, process.pid, started.isoformat(), experiment_id, commit, command))
            guard = await Guard.start(run.tree)
        if on_progress:
            watcher = asyncio.create_task(_watch_progress(output, on_progress, progress_every))
        await asyncio.wait_for(process.wait(), timeout)
    except TimeoutError:
        status = "timeout"
        await run.kill()
    except BaseException:  # cancelled (the trainer is stopping), or the run could not be recorded or guarded
        await run.kill()
        raise
    finally:
        if watcher:
            watcher.cancel()
        await run.end()  # stray children of a finished run die with it
        if guard is not None:
            await guard.release()  # and what the guard saw of it, where only its process tree held it
        await run.drain()
        output.close()
        observed = witness.finish()
        if record is not None:
            clear_record(record)
    text = output.final_text  # from the file the trainer wrote, never by path: the run may have swapped the path
    metrics = parse_summary(text)
    val_bpb = metrics.get("val_bpb")
    if status == "ok" and (process.returncode != 0 or not isinstance(val_bpb, float) or not math.isfinite(val_bpb)):
        status = "crash"
    if status == "ok" and (reason := refusal(metrics, observed)) is not None:
        status = "crash"
        metrics, text = refused(metrics, text, reason)
        log.warning("run refused", reason=reason)
    return RunOutcome(status, process.returncode, metrics, tail(text), started, isolation=isolation.label)
