"""results.tsv in exactly Karpathy's five columns, one row per experiment: the file the trainer and the ledger both write."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from shared.events import VerdictDecided
from shared.text import printable

HEADER = "commit\tval_bpb\tmemory_gb\tstatus\tdescription"
RESULTS_MODE = 0o644  # analysis tools and the person who started the campaign read it, whoever wrote it


def results_row(verdict: VerdictDecided) -> str:
    """One row: short hash, val_bpb to 6 decimals (the mean of the runs), peak memory in GB to .1f, status, description."""
    crashed = verdict.status == "crash" or verdict.val_bpb is None
    val_bpb = 0.0 if crashed else verdict.val_bpb
    memory = 0.0 if crashed else verdict.memory_gb
    # a description from a model may carry tabs, newlines or terminal sequences: none may reach a cell
    description = " ".join(printable(verdict.description).split()) or ("baseline" if verdict.baseline else "-")
    return f"{verdict.commit[:7]}\t{val_bpb:.6f}\t{memory:.1f}\t{verdict.status}\t{description}"


def one_per_experiment(verdicts: Iterable[VerdictDecided]) -> list[VerdictDecided]:
    """The latest verdict of each experiment, at the place of its first one."""
    latest: dict[str, VerdictDecided] = {}
    for verdict in verdicts:
        latest[verdict.experiment_id] = verdict  # a dict keeps the first insertion's place
    return list(latest.values())


def render_results(verdicts: Iterable[VerdictDecided]) -> str:
    """The whole file: header, then one row per experiment in the order they were decided."""
    return "\n".join([HEADER, *(results_row(v) for v in one_per_experiment(verdicts))]) + "\n"


def write_atomically(path: Path, text: str, mode: int = RESULTS_MODE) -> None:
    """Replace path's content in one step, so a reader never sees half a file; the file gets mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), mode)  # mkstemp makes 0600, whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # a full disk leaves no half-written file beside the real one
        raise
