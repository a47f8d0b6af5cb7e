"""Where a run's val_bpb came from: the values the workspace's evaluation returned, seen through a pipe.

A run's printed `val_bpb` is accepted only if prepare.py's evaluation returned that value in the run. The
hook in metric_hook/ reports each value; the trainer reads the reports while the run trains (a run that
evaluates often must never block on a full pipe) and compares them with the summary once it has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from services.trainer.metric_hook.sitecustomize import EVALUATION_VARIABLE, FD_VARIABLE
from shared.events import METRIC_TEXT_MAX, METRICS_MAX

HOOK_FOLDER = Path(__file__).resolve().parent / "metric_hook"
DEFAULT_EVALUATION = "prepare:evaluate_bpb"
EVALUATION_PATTERN = r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"
# results.tsv keeps val_bpb to 6 decimals; a printed value must be the evaluation's to that precision.
VAL_BPB_TOLERANCE = 0.5e-6
VALUES_KEPT = 1000  # the newest values; a run that evaluates every step reports far more than it prints
LINE_MAX = 4096
CHUNK = 65536
CHUNKS_AT_ONCE = 4  # per wake-up of the event loop, which has other work too
FINAL_CHUNKS = 64  # more than a pipe holds (64 KiB by default, 1 MiB at most unless raised by root)
REASON_METRIC = "crash_reason"
NOT_COMPUTED = "val_bpb was not computed by prepare.py"
NOT_OBSERVED = "val_bpb cannot be checked"
TRUST_HINT = "(a workspace without such an evaluation sets trust_printed_metric = true in autoresearch.toml)"


@dataclass
class Observation:
    """What the hook reported during one run, within bounds."""

    evaluation: str
    loaded: bool = False
    wrapped: bool = False
    missing: str | None = None
    values: deque[float | None] = field(default_factory=lambda: deque(maxlen=VALUES_KEPT))

    def take(self, line: bytes) -> None:
        """Fold one report line in; a line that is not a report is ignored."""
        try:
            report = json.loads(line)
        except (ValueError, RecursionError):  # a run may write anything to the pipe, nesting included
            return
        if not isinstance(report, dict):
            return
        if "value" in report:
            value = report["value"]
            self.values.append(float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None)
        elif "wrapped" in report:
            self.wrapped = True
        elif "missing" in report:
            self.missing = str(report["missing"])[:200]
        elif "loaded" in report:
            self.loaded = True


def matches(printed: float, value: float | None) -> bool:
    """True when value, printed to 6 decimals, reads as printed."""
    if value is None or not math.isfinite(value):
        return False
    return abs(printed - value) <= VAL_BPB_TOLERANCE + 1e-12 * max(1.0, abs(printed))


def refusal(metrics: dict[str, float | str], observed: Observation | None) -> str | None:
    """Why a run's printed val_bpb cannot be accepted, or None when it can (or nothing was asked to be watched)."""
    printed = metrics.get("val_bpb")
    if observed is None or not isinstance(printed, float):
        return None
    name = observed.evaluation
    if not observed.loaded:
        return (f"{NOT_OBSERVED}: the evaluation hook did not load in the run (the train command must start Python "
                f"with PYTHONPATH honoured and site enabled: no -I, -E or -S) {TRUST_HINT}")
    if any(matches(printed, value) for value in observed.values):
        return None
    if observed.missing is not None:
        return f"{NOT_OBSERVED}: {observed.missing}; name the evaluation with evaluation = \"module:function\" {TRUST_HINT}"
    if not observed.wrapped:
        return f"{NOT_COMPUTED}: the run never imported {name.partition(':')[0]}"
    if not observed.values:
        return f"{NOT_COMPUTED}: printed {printed:.6f}, but {name} was never called"
    last = observed.values[-1]
    returned = "a value that is not a number" if last is None else f"{last:.6f}"
    return f"{NOT_COMPUTED}: printed {printed:.6f}, but {name} returned {returned}"


def refused(metrics: dict[str, float | str], log: str, reason: str) -> tuple[dict[str, float | str], str]:
    """The metrics and log of a refused run: the reason as `crash_reason` and as the log's last line."""
    kept = {key: value for key, value in metrics.items() if key != REASON_METRIC}
    while len(kept) >= METRICS_MAX:  # the reason takes the place of the last metric printed, never of val_bpb
        kept.pop(next(key for key in reversed(kept) if key != "val_bpb"))
    return {**kept, REASON_METRIC: reason[:METRIC_TEXT_MAX]}, f"{log.rstrip()}\nautoresearch: {reason}\n"


class MetricWitness:
    """The pipe one run reports its evaluation through; without an evaluation to watch, it watches nothing."""

    def __init__(self, evaluation: str | None) -> None:
        self.evaluation = evaluation
        self.observed = Observation(evaluation) if evaluation else None
        self._read, self._write = os.pipe() if evaluation else (-1, -1)
        self._partial = b""
        self._watching = False

    @property
    def pass_fds(self) -> tuple[int, ...]:
        """The descriptor the run must inherit."""
        return (self._write,) if self._write >= 0 else ()

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """env with the hook first on PYTHONPATH and the pipe's number and the evaluation's name for it."""
        if self.evaluation is None:
            return env
        path = os.pathsep.join(entry for entry in (str(HOOK_FOLDER), env.get("PYTHONPATH", "")) if entry)
        return {**env, "PYTHONPATH": path, FD_VARIABLE: str(self._write), EVALUATION_VARIABLE: self.evaluation}

    def start(self) -> None:
        """Once the run holds its end: close the trainer's copy and read reports as they come."""
        if self._write >= 0:
            os.close(self._write)
            self._write = -1
        if self._read >= 0:
            os.set_blocking(self._read, False)
            asyncio.get_running_loop().add_reader(self._read, self._drain)
            self._watching = True

    def finish(self) -> Observation | None:
        """After the run's processes are gone: read what is left, close the pipe, and say what was seen."""
        self._drain(FINAL_CHUNKS)
        self.close()
        return self.observed

    def close(self) -> None:
        """Close both ends (idempotent); a run that could not start leaves nothing open."""
        if self._watching:
            asyncio.get_running_loop().remove_reader(self._read)
            self._watching = False
        for fd in (self._read, self._write):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._read = self._write = -1

    def _drain(self, chunks: int = CHUNKS_AT_ONCE) -> None:
        """Read what is waiting in the pipe, a bounded amount at a time, so a run that floods it never stalls the trainer."""
        for _ in range(chunks if self._read >= 0 else 0):
            try:
                chunk = os.read(self._read, CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                chunk = b""
            if not chunk:
                if self._watching:
                    asyncio.get_running_loop().remove_reader(self._read)
                    self._watching = False
                return
            *lines, partial = (self._partial + chunk).split(b"\n")
            self._partial = partial[:LINE_MAX]  # an endless line stays bounded and ends as junk
            for line in lines:
                if self.observed is not None and len(line) <= LINE_MAX:
                    self.observed.take(line)
