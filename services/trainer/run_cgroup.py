"""A cgroup for one run: whatever the run forks stays in it, setsid and double forks included, and dies with it.

Version 2 kills a cgroup in one write (cgroup.kill). Version 1 has no such file: the freezer stops every
member, so none can fork while the members are listed and killed. The run's cgroup is made below the
trainer's own, where a delegated (or root's) hierarchy lets the trainer write.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

PROC_SELF = Path("/proc/self")
VERSIONS = ("v2", "v1")


def _mount_point(version: str) -> tuple[Path, str] | None:
    """Where the hierarchy is mounted (v2: the unified one; v1: the freezer's), and the cgroup path of its root."""
    with contextlib.suppress(OSError):
        for line in (PROC_SELF / "mountinfo").read_text().splitlines():
            fields, _, tail = line.partition(" - ")
            fstype, _, options = (tail.split() + ["", "", ""])[:3]
            parts = fields.split()
            if (version == "v2" and fstype == "cgroup2") or (version == "v1" and fstype == "cgroup"
                                                             and "freezer" in options.split(",")):
                return Path(parts[4]), parts[3]
    return None


def own_cgroup(version: str) -> Path | None:
    """The folder of this process's own cgroup in the hierarchy of `version`, or None without one."""
    mount = _mount_point(version)
    if mount is None:
        return None
    point, root = mount
    with contextlib.suppress(OSError):
        for line in (PROC_SELF / "cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if (version == "v2" and controllers == "") or (version == "v1" and "freezer" in controllers.split(",")):
                if root != "/" and path.startswith(root):
                    path = path[len(root):]
                return point / path.lstrip("/")
    return None


@dataclass(frozen=True)
class RunCgroup:
    """The cgroup that holds one run's processes."""

    path: Path
    version: str

    @classmethod
    def create(cls, version: str) -> RunCgroup:
        """A new, empty cgroup below this process's own. Raises OSError where that cannot be made."""
        base = own_cgroup(version)
        if base is None:
            raise OSError(f"no cgroup {version} hierarchy is mounted")
        cgroup = cls(base / f"autoresearch-run-{os.getpid()}-{uuid.uuid4().hex[:8]}", version)
        cgroup.path.mkdir()
        if version == "v2" and not (cgroup.path / "cgroup.kill").exists():
            cgroup.remove()
            raise OSError("this kernel's cgroup v2 has no cgroup.kill")
        return cgroup

    @property
    def procs(self) -> str:
        """The file that a process is written into to join, and that lists the members."""
        return str(self.path / "cgroup.procs")

    def pids(self) -> list[int]:
        """The processes in the cgroup now; none once it is gone."""
        try:
            return [int(line) for line in Path(self.procs).read_text().split()]
        except (OSError, ValueError):
            return []

    def kill(self, within: float = 30.0) -> list[int]:
        """SIGKILL every process in the cgroup and wait until it is empty; return the pids killed."""
        killed: list[int] = []
        deadline = time.monotonic() + within
        while pids := self.pids():
            killed.extend(pid for pid in pids if pid not in killed)
            if self.version == "v2":
                (self.path / "cgroup.kill").write_text("1")
            else:
                self._kill_frozen()
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes {pids} of cgroup {self.path} are still alive after SIGKILL")
            time.sleep(0.01)
        return killed

    def _kill_frozen(self) -> None:
        state = self.path / "freezer.state"
        state.write_text("FROZEN")
        for _ in range(100):  # FREEZING until every member has stopped
            if state.read_text().strip() == "FROZEN":
                break
            time.sleep(0.01)
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        state.write_text("THAWED")  # a frozen process takes its SIGKILL when it thaws

    def remove(self, within: float = 5.0) -> None:
        """Remove the emptied cgroup (a process that just died may hold it for a moment)."""
        deadline = time.monotonic() + within
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


def abandoned(version: str) -> list[RunCgroup]:
    """Run cgroups beside this trainer's made by trainers that are gone (one killed before its run's guard started)."""
    base = own_cgroup(version)
    if base is None or not base.is_dir():
        return []
    found = []
    for path in base.glob("autoresearch-run-*"):
        maker = path.name.split("-")[2]
        if maker.isdigit() and int(maker) != os.getpid() and not (PROC_SELF.parent / maker).exists():
            found.append(RunCgroup(path, version))
    return found


def remove_abandoned() -> list[int]:
    """Kill what is left in the run cgroups of trainers that are gone and remove them; the pids killed."""
    killed: list[int] = []
    for version in VERSIONS:
        for cgroup in abandoned(version):
            with contextlib.suppress(OSError, TimeoutError):
                killed += cgroup.kill()
                cgroup.remove()
    return killed
