"""results.tsv in exactly Karpathy's five columns."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from shared.events import VerdictDecided

HEADER = "commit\tval_bpb\tmemory_gb\tstatus\tdescription"


def results_row(verdict: VerdictDecided) -> str:
    """One row: short hash, val_bpb to 6 decimals, memory in GB to .1f, status, description."""
    crashed = verdict.status == "crash" or verdict.val_bpb is None
    val_bpb = 0.0 if crashed else verdict.val_bpb
    memory = 0.0 if crashed else verdict.memory_gb
    description = " ".join(verdict.description.split()) or ("baseline" if verdict.baseline else "-")
    return f"{verdict.commit[:7]}\t{val_bpb:.6f}\t{memory:.1f}\t{verdict.status}\t{description}"


def render_results(verdicts: Iterable[VerdictDecided]) -> str:
    """The whole file: header, then one row per verdict in the order they were decided."""
    return "\n".join([HEADER, *(results_row(v) for v in verdicts)]) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Replace path's content in one step, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
