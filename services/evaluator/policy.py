"""The keep/discard policy: lower val_bpb than the best so far is kept."""

from __future__ import annotations

import math
from dataclasses import dataclass

from shared.events import RunFinished, VerdictStatus


@dataclass(frozen=True)
class Decision:
    """A verdict before it becomes an event."""

    status: VerdictStatus
    val_bpb: float | None
    memory_gb: float
    best_after: float | None
    head: str
    reason: str


def memory_gb(metrics: dict[str, float | str]) -> float:
    """Peak memory in GB from the run's peak_vram_mb (0.0 when unknown)."""
    value = metrics.get("peak_vram_mb")
    return round(value / 1024, 1) if isinstance(value, float) and value > 0 else 0.0


def decide_verdict(run: RunFinished, best: float | None) -> Decision:
    """Keep the baseline and every improvement; discard the rest; a failed run is a crash."""
    previous_head = run.parent or run.commit
    val_bpb = run.metrics.get("val_bpb")
    if run.status != "ok" or not isinstance(val_bpb, float) or not math.isfinite(val_bpb):
        why = f"run ended with status {run.status}" if run.status != "ok" else "run reported no finite val_bpb"
        return Decision("crash", None, 0.0, best, previous_head, why)
    memory = memory_gb(run.metrics)
    if run.baseline:
        return Decision("keep", val_bpb, memory, val_bpb, run.commit, "baseline")
    if best is None or val_bpb < best:
        reason = "first successful run" if best is None else f"val_bpb {val_bpb:.6f} < best {best:.6f}"
        return Decision("keep", val_bpb, memory, val_bpb, run.commit, reason)
    return Decision("discard", val_bpb, memory, best, previous_head, f"val_bpb {val_bpb:.6f} >= best {best:.6f}")
