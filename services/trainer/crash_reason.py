"""Why a run failed, in one line: the last line of its log that says something, as a person would pick it.

The trainer sets it as the `crash_reason` metric of every failed run it publishes, so that a crash reads as
`ModuleNotFoundError: No module named 'kernels'` or `/bin/sh: 1: uv: not found` wherever it is shown.
"""

from __future__ import annotations

import re
from datetime import datetime

from services.trainer.provenance import REASON_METRIC
from services.trainer.runner import last_step, screen_lines
from shared.events import METRIC_TEXT_MAX, METRICS_MAX, RunStatus
from shared.text import printable

TRACEBACK = "Traceback (most recent call last):"
# Lines that frame an error without being it: Python's links between chained tracebacks, torch's hints
# printed after its own errors, the trainer's note where run.log was cut.
NOT_A_REASON = (
    "During handling of the above exception", "The above exception was the direct cause", "Set TORCHDYNAMO_VERBOSE",
    "You can suppress this exception", "For even more developer context", "[run.log cut here",
)
# An exception line: a class name (dotted, capitalised), then its message after ': ', or nothing.
_EXCEPTION = re.compile(r"^(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?::\s.*)?$")
_PADDING = re.compile(r"\s{3,}")  # what a progress line printed with `end=""` leaves before the next print


def _progress(line: str) -> bool:
    """True for a training step line (`step 00042 (12.3%) | loss: ...`), the runner's own rule."""
    return line.lstrip().lower().startswith("step") and last_step(line) is not None


def _said(line: str) -> str:
    """What a line says once a progress line it was printed after (on the same screen line) is taken off."""
    if not _progress(line):
        return line
    tail = _PADDING.split(line.strip())[-1]
    return "" if _progress(tail) else tail


def _framing(line: str) -> bool:
    """True for a line that is no reason: blank, a traceback's header or frame, a hint, an indented continuation."""
    return (not line.strip() or line[0].isspace() or line.strip() == TRACEBACK or line.startswith(NOT_A_REASON)
            or set(line.strip()) <= set("^~"))


def crash_reason(log: str) -> str | None:
    """The last meaningful line of a failed run's log (a traceback's exception line), or None when it says nothing."""
    lines = [_said(line.rstrip()) for line in screen_lines(log)]
    last = next((i for i in range(len(lines) - 1, -1, -1) if not _framing(lines[i])), None)
    if last is None:
        return None
    start = last
    while start > 0 and not _framing(lines[start - 1]):
        start -= 1
    block, above = lines[start:last + 1], lines[start - 1] if start else ""
    if above.strip() and (above[0].isspace() or above.strip() == TRACEBACK):  # the exception that ends a traceback
        # its message may run over several lines: the exception's own line, the inner one when one error wraps another
        block = [line for line in block if _EXCEPTION.match(line)] or block[:1]
    return printable(block[-1].strip())[:METRIC_TEXT_MAX] or None


def failure_reason(
    status: RunStatus, log_tail: str, timeout: float | None, started: datetime, finished: datetime,
) -> str | None:
    """Why a run of this status failed: its timeout, or its log's last meaningful line; None for a run that did not fail."""
    if status == "ok":
        return None
    if status == "timeout":
        seconds = timeout if timeout is not None else round((finished - started).total_seconds())
        return f"timed out after {seconds:g} s"
    return crash_reason(log_tail)


def with_reason(metrics: dict[str, float | str], reason: str | None) -> dict[str, float | str]:
    """metrics with `crash_reason` added, unless one is already there (a refusal's) or there is none to add."""
    if reason is None or REASON_METRIC in metrics:
        return metrics
    kept = dict(metrics)
    while len(kept) >= METRICS_MAX:  # the reason takes the place of the last metric printed, never of val_bpb
        kept.pop(next(key for key in reversed(kept) if key != "val_bpb"))
    return {**kept, REASON_METRIC: reason[:METRIC_TEXT_MAX]}
