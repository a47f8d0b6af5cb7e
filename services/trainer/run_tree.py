"""Every process of one run, however the run is held, and one way to kill them all.

The trainer kills a run's tree when the run ends, at its timeout and when it is cancelled; the run's guard
kills the same tree when the trainer dies; a trainer that starts kills the tree its predecessor recorded.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.trainer.run_cgroup import RunCgroup
from services.trainer.run_group import PROC, ProcessRef, ProcessStat, RunGroup, boot_id

FIND_INIT_WITHIN = 5.0
KILL_WITHIN = 30.0


@dataclass(frozen=True)
class RunTree:
    """The run's process group, and where there is one, its cgroup and the first process of its PID namespace."""

    group: RunGroup
    cgroup: RunCgroup | None = None
    init: ProcessRef | None = None  # as seen from outside: killing it kills everything in the namespace

    @classmethod
    def find(cls, leader: int, cgroup: RunCgroup | None, pid_namespace: bool) -> RunTree | None:
        """The tree of the run whose (not yet reaped) first process is `leader`; None where /proc cannot tell."""
        group = RunGroup.led_by(leader)
        if group is None:
            return None
        return cls(group, cgroup, _namespace_init(group.leader) if pid_namespace else None)

    @property
    def held_by_processes_only(self) -> bool:
        """True where neither a cgroup nor a PID namespace holds the run: only its process tree says what is in it."""
        return self.cgroup is None and self.init is None

    def kill(self, also: Iterable[ProcessRef] = ()) -> list[int]:
        """SIGKILL every process of the run (and `also`, seen in it before) and wait until all are gone; the pids killed."""
        killed: list[int] = []
        if self.boot_matches and self.cgroup is not None:
            killed += self.cgroup.kill()
        if self.boot_matches and self.init is not None and self.init.alive():
            self.init.kill()  # the kernel kills the rest of the namespace before the init is gone
            deadline = time.monotonic() + KILL_WITHIN
            while self.init.alive():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the first process {self.init.pid} of a run's PID namespace outlived SIGKILL")
                time.sleep(0.01)
            killed.append(self.init.pid)
        roots = [*([self.init] if self.init else []), *also]
        killed += [pid for pid in self.group.sweep(roots) if pid not in killed]
        if self.cgroup is not None:
            with contextlib.suppress(OSError):  # an empty cgroup left behind holds nothing
                self.cgroup.remove()
        return killed

    @property
    def boot_matches(self) -> bool:
        """False for a tree recorded before this boot: none of its processes or cgroups exist any more."""
        return self.group.boot == boot_id()

    def to_json(self) -> str:
        """The tree as one line, for the guard's command line and the run record."""
        return json.dumps(self.fields())

    def fields(self) -> dict[str, object]:
        """The tree as flat fields."""
        return {
            "pgid": self.group.pgid, "leader_start": self.group.leader_start, "boot": self.group.boot,
            "cgroup": str(self.cgroup.path) if self.cgroup else "", "cgroup_version": self.cgroup.version if self.cgroup else "",
            "init_pid": self.init.pid if self.init else 0, "init_start": self.init.start if self.init else 0,
        }

    @classmethod
    def from_fields(cls, pgid: int, leader_start: int, boot: str, cgroup: str = "", cgroup_version: str = "",
                    init_pid: int = 0, init_start: int = 0) -> RunTree:
        """The tree from its flat fields (a record from before cgroups and namespaces has none of theirs)."""
        return cls(RunGroup(pgid, leader_start, boot), RunCgroup(Path(cgroup), cgroup_version) if cgroup else None,
                   ProcessRef(init_pid, init_start) if init_pid else None)

    @classmethod
    def from_json(cls, text: str) -> RunTree:
        """The tree from to_json's line."""
        return cls.from_fields(**json.loads(text))


def _namespace_init(leader: ProcessRef) -> ProcessRef | None:
    """The child that `unshare --fork` (the leader) makes, the first process of the run's PID namespace."""
    deadline = time.monotonic() + FIND_INIT_WITHIN
    while time.monotonic() < deadline and leader.alive():
        for entry in PROC.iterdir():
            if entry.name.isdigit() and (stat := ProcessStat.read(int(entry.name))) is not None:
                if stat.ppid == leader.pid and stat.start >= leader.start:
                    return ProcessRef(stat.pid, stat.start)
        time.sleep(0.002)
    return None
