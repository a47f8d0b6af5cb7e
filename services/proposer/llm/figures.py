"""Metrics written as a run's summary writes them: counts as integers, bits per byte to six decimals."""

from __future__ import annotations

import math

# The summary's own precision for its headline figures; the run's text reaches us as floats either way.
SIX_DECIMALS = ("bpb", "loss")


def figure(name: str, value: float | str) -> str:
    """One metric for the prompt: `num_steps: 953`, not 953.0; val_bpb to 6 decimals; other floats short."""
    if isinstance(value, str) or not math.isfinite(value):
        return str(value)
    if any(part in name.lower() for part in SIX_DECIMALS):
        return f"{value:.6f}"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    if 1e-3 <= abs(value) < 1e12:
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{value:.6g}"


def summary_line(metrics: dict[str, float | str], limit: int = 16) -> str:
    """The first `limit` metrics as `key: value` pairs on one line."""
    return ", ".join(f"{name}: {figure(name, value)}" for name, value in list(metrics.items())[:limit])
