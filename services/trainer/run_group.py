"""A run's processes read from /proc: its process group, its descendants, whether they are still that run's; killing them."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
BOOT_ID = PROC / "sys" / "kernel" / "random" / "boot_id"


@dataclass(frozen=True)
class ProcessStat:
    """The fields of /proc/<pid>/stat that tell a process apart from a later one with the same pid."""

    pid: int
    state: str
    pgid: int
    sid: int
    start: int  # clock ticks after boot: with the pid, unique until the next boot
    ppid: int = 0

    @classmethod
    def read(cls, pid: int) -> ProcessStat | None:
        """The process's stat, or None when there is no such process."""
        try:
            text = (PROC / str(pid) / "stat").read_text()
        except OSError:
            return None
        fields = text.rsplit(")", 1)[1].split()  # the command name in parentheses may hold anything
        return cls(pid, fields[0], int(fields[2]), int(fields[3]), int(fields[19]), int(fields[1]))


@dataclass(frozen=True)
class ProcessRef:
    """One process: its pid and its start, so that a later process given the same pid is never taken for it."""

    pid: int
    start: int

    def alive(self) -> bool:
        """True while this very process runs (a zombie counts as gone)."""
        stat = ProcessStat.read(self.pid)
        return stat is not None and stat.start == self.start and stat.state != "Z"

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal this process if it is still the one meant."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, sig)


def boot_id() -> str:
    """This boot's id: a record from before a reboot names processes that no longer exist."""
    with contextlib.suppress(OSError):
        return BOOT_ID.read_text().strip()
    return ""


def _all_processes() -> Iterator[ProcessStat]:
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := ProcessStat.read(int(entry.name))) is not None:
            yield stat


@dataclass(frozen=True)
class RunGroup:
    """The process group of one run: its leader started it in a new session, so the group and session ids are its pid."""

    pgid: int
    leader_start: int
    boot: str

    @classmethod
    def led_by(cls, pid: int) -> RunGroup | None:
        """The group that the (not yet reaped) process pid leads; None where /proc cannot tell."""
        stat = ProcessStat.read(pid)
        if stat is None or stat.pgid != pid:
            return None
        return cls(pid, stat.start, boot_id())

    @property
    def leader(self) -> ProcessRef:
        """The process the trainer started."""
        return ProcessRef(self.pgid, self.leader_start)

    def _holds(self, stat: ProcessStat) -> bool:
        return stat.pgid == self.pgid and stat.sid == self.pgid and stat.start >= self.leader_start and stat.state != "Z"

    def members(self) -> list[int]:
        """The live processes of this run's group (zombies count as gone).

        A group id stays taken while any member lives, so the id can only have been given to another process
        once every member of this run is gone: a leader with another start time means nothing is left to find.
        Without a leader, members are those of the group and session that started no earlier than the leader.
        """
        if not PROC.is_dir() or self.boot != boot_id():
            return []
        leader = ProcessStat.read(self.pgid)
        if leader is not None and leader.start != self.leader_start:
            return []
        return [stat.pid for stat in _all_processes() if self._holds(stat)]

    def kill(self, within: float = 30.0) -> list[int]:
        """SIGKILL every member until none is left; return the pids killed. Raises TimeoutError if some outlive `within`."""
        killed: list[int] = []
        deadline = time.monotonic() + within
        while members := self.members():
            for pid in members:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if pid not in killed:
                    killed.append(pid)
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes {members} of run group {self.pgid} are still alive after SIGKILL")
            time.sleep(0.02)
        return killed

    def snapshot(self, roots: Iterable[ProcessRef] = ()) -> list[ProcessRef]:
        """The run's processes now: the group, and the leader's and the roots' descendants."""
        if not PROC.is_dir() or self.boot != boot_id():
            return []
        table = {stat.pid: stat for stat in _all_processes() if stat.state != "Z"}
        return [ProcessRef(pid, table[pid].start) for pid in self._find(table, [self.leader, *roots], True)]

    def sweep(self, roots: Iterable[ProcessRef] = (), within: float = 30.0, group: bool = True) -> list[int]:
        """Kill the group, its leader's descendants and the roots' descendants, however they left the group.

        Each pass stops (SIGSTOP) every new process found and remembers it, so that what a stopped process
        would have forked next cannot appear unseen; when a pass finds nothing new, all are killed at once.
        A process that called setsid keeps its parent, so it is found through the parent while that lives.
        With group=False only the leader and the roots (each the very process once seen) and their
        descendants are killed: for after the run's end, when its group id may already name another group.
        """
        if not PROC.is_dir() or self.boot != boot_id():
            return []
        seen: dict[int, ProcessRef] = {}
        starts = [ref for ref in (self.leader, *roots) if ref.alive()]
        while True:
            table = {stat.pid: stat for stat in _all_processes() if stat.state != "Z"}
            found = self._find(table, [*starts, *seen.values()], group)
            new = [ProcessRef(pid, table[pid].start) for pid in found - seen.keys()]
            if not new:
                break
            for ref in new:
                seen[ref.pid] = ref
                ref.kill(signal.SIGSTOP)
        for ref in seen.values():
            ref.kill()
        deadline = time.monotonic() + within
        while left := [ref.pid for ref in seen.values() if ref.alive()]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes {left} of run {self.pgid} are still alive after SIGKILL")
            time.sleep(0.02)
        return list(seen)

    def _find(self, table: dict[int, ProcessStat], roots: list[ProcessRef], group: bool) -> set[int]:
        leader = table.get(self.pgid)
        group_is_ours = group and (leader is None or leader.start == self.leader_start)  # as in members()
        members = [ProcessRef(pid, stat.start) for pid, stat in table.items() if group_is_ours and self._holds(stat)]
        return _descendants(table, [*roots, *members])


def _descendants(table: dict[int, ProcessStat], roots: Iterable[ProcessRef]) -> set[int]:
    """The live roots (same pid and start) and every process below them in `table`."""
    children: dict[int, list[int]] = {}
    for stat in table.values():
        children.setdefault(stat.ppid, []).append(stat.pid)
    found: set[int] = set()
    todo = [ref.pid for ref in roots if ref.pid in table and table[ref.pid].start == ref.start]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found
