"""A run's process group, read from /proc: who is in it, whether it is still the run that was started, killing it."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
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

    @classmethod
    def read(cls, pid: int) -> ProcessStat | None:
        """The process's stat, or None when there is no such process."""
        try:
            text = (PROC / str(pid) / "stat").read_text()
        except OSError:
            return None
        fields = text.rsplit(")", 1)[1].split()  # the command name in parentheses may hold anything
        return cls(pid, fields[0], int(fields[2]), int(fields[3]), int(fields[19]))


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
        return [
            stat.pid for stat in _all_processes()
            if stat.pgid == self.pgid and stat.sid == self.pgid and stat.start >= self.leader_start and stat.state != "Z"
        ]

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
