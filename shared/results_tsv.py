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
    return render_rows(results_row(v) for v in one_per_experiment(verdicts))


def render_rows(rows: Iterable[str]) -> str:
    """The whole file from rows already rendered: header, then each row on its own line."""
    return "\n".join([HEADER, *rows]) + "\n"


def write_atomically(path: Path, text: str, mode: int = RESULTS_MODE) -> None:
    """Replace path's content in one step, so a reader never sees half a file; the file gets mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), mode)  # mkstemp makes 0600, whatever the umask
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # a full disk leaves no half-written file beside the real one
        raise


Stamp = tuple[int, int, int, int]  # device, inode, size, modification time in ns


class ResultsWriter:
    """One writer's results.tsv: new rows are appended; the file is rewritten whole only when it must be.

    It must be on the first write (whatever an earlier process left there), and whenever the file is not what
    this writer last left: removed, replaced, truncated or touched by someone else, or the new text does not
    begin with the old (a row changed). An append is flushed, not synced: the next start rewrites the file whole
    from the event stream, so a row a power cut took comes back then.
    """

    def __init__(self, path: Path, mode: int = RESULTS_MODE) -> None:
        self.path, self.mode = path, mode
        self.written: str | None = None  # the text this writer last left in the file
        self.stamp: Stamp | None = None  # and how the file looked just after

    def write(self, text: str) -> bool:
        """Make the file hold text; True when that took an append (or nothing), False when a whole rewrite."""
        if self.written is not None and text.startswith(self.written) and self._as_left():
            try:
                self.stamp = append(self.path, text[len(self.written):].encode("utf-8"))
                self.written = text
                return True
            except FileNotFoundError:  # removed since the check: rewritten below
                pass
        self.written = self.stamp = None  # a failed rewrite leaves nothing to append to
        write_atomically(self.path, text, self.mode)
        self.written, self.stamp = text, stamp_of(os.stat(self.path))
        return False

    def _as_left(self) -> bool:
        try:
            return stamp_of(os.stat(self.path)) == self.stamp
        except FileNotFoundError:
            return False


def append(path: Path, data: bytes) -> Stamp:
    """Add data at the end of an existing file, whole; the file's stamp after."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        return stamp_of(os.fstat(fd))
    finally:
        os.close(fd)


def stamp_of(status: os.stat_result) -> Stamp:
    """What tells one state of a file from another without reading it."""
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns
