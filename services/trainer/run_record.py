"""The run in progress, written down while it runs, so that a trainer that died cannot leave it running.

A run's processes are killed when the run ends, and a guard kills them if the trainer dies first; the record
is what makes the rule "never two runs at once" hold even when both of those failed: a starting trainer
kills whatever run its predecessor recorded, and waits until it is gone, before it does anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from services.trainer.run_group import RunGroup
from services.trainer.run_tree import RunTree

log = structlog.get_logger("trainer")


@dataclass(frozen=True)
class RunRecord:
    """Enough to find a run's processes again, and to be sure they are still that run's."""

    pgid: int
    pid: int
    leader_start: int
    boot: str
    started_at: str
    experiment_id: str
    commit: str
    command: str
    cgroup: str = ""  # the run's cgroup folder, where runs get one
    cgroup_version: str = ""
    init_pid: int = 0  # the first process of the run's PID namespace, where runs get one
    init_start: int = 0

    @classmethod
    def of(cls, tree: RunTree, pid: int, started_at: str, experiment_id: str, commit: str, command: str) -> RunRecord:
        """The record of a run held by `tree`, whose first process is pid."""
        return cls(pid=pid, started_at=started_at, experiment_id=experiment_id, commit=commit, command=command,
                   **tree.fields())  # type: ignore[arg-type]

    @property
    def group(self) -> RunGroup:
        """The run's process group."""
        return RunGroup(self.pgid, self.leader_start, self.boot)

    @property
    def tree(self) -> RunTree:
        """Every process of the run: its group, cgroup and PID namespace."""
        return RunTree.from_fields(self.pgid, self.leader_start, self.boot, self.cgroup, self.cgroup_version,
                                   self.init_pid, self.init_start)


def record_path(state_dir: Path, campaign: str, workspace: Path) -> Path:
    """Where a trainer records its run: one file per campaign and workspace, since a workspace holds one run at a time."""
    digest = hashlib.sha256(str(workspace.resolve()).encode()).hexdigest()[:12]
    return state_dir / "trainer" / campaign / f"run-{digest}.json"


def write_record(path: Path, record: RunRecord) -> None:
    """Record the run (replacing the file whole, so a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(asdict(record)))
    os.replace(partial, path)


def read_record(path: Path) -> RunRecord | None:
    """The recorded run, or None when there is none (or the file cannot be read as one)."""
    try:
        return RunRecord(**json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        log.warning("run record unreadable, ignored", path=str(path), error=str(exc))
        return None


def clear_record(path: Path) -> None:
    """The run is over and its processes are gone."""
    path.unlink(missing_ok=True)


def kill_leftover(path: Path) -> tuple[RunRecord, list[int]] | None:
    """Kill the run a previous trainer recorded and wait until it is gone: (its record, the pids killed), or None."""
    record = read_record(path)
    if record is None:
        clear_record(path)
        return None
    killed = record.tree.kill()
    clear_record(path)
    return record, killed
