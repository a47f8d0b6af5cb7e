"""What holds a training run on this machine: a cgroup, a PID namespace, a reaper; no network or another user on request.

Detected once per trainer process, strongest first. A cgroup keeps every process the run forks, whatever
session it makes; a PID namespace also does (its first process dying kills the rest) and gives the run a
/proc of its own, so it cannot read its ancestors' environments. Without a PID namespace, a reaper (a child
subreaper) runs the command and keeps the run's orphans below it. Where the run has a mount namespace (the
PID namespace's), the trainer's state folder and the workspace are covered in it (veil.py): the run cannot
read the bus's credentials or the ledger, nor plant anything in .git, by absolute path. Asked-for isolation
that cannot be had is refused.
"""

from __future__ import annotations

import functools
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from services.trainer.run_cgroup import VERSIONS, RunCgroup

REAPER = Path(__file__).with_name("reaper.py")
VEIL = Path(__file__).with_name("veil.py")
PID_NAMESPACE = ("--pid", "--fork", "--mount-proc", "--kill-child")
_PROBE_TIMEOUT = 10.0


class IsolationUnavailable(ValueError):
    """Isolation that was asked for cannot be had here; the message says what is missing."""


@dataclass(frozen=True)
class RunUser:
    """The account runs are started as, instead of the trainer's own."""

    name: str
    uid: int
    gid: int
    home: str

    @classmethod
    def named(cls, name: str) -> RunUser:
        """The account called `name` (or with that uid); IsolationUnavailable when there is none."""
        try:
            entry = pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
        except (KeyError, ValueError):
            raise IsolationUnavailable(f"--run-as {name}: there is no such user on this machine") from None
        return cls(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)

    def switch(self) -> list[str]:
        """The setpriv command line that runs what follows as this user, without a way back to more privileges."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--no-new-privs", "--"]


@dataclass(frozen=True)
class Isolation:
    """How this trainer's runs are held; Isolation() is a process group and a reaper only."""

    cgroup: str | None = None  # "v2" or "v1": the hierarchy each run gets a cgroup in
    unshare: tuple[str, ...] = ()  # unshare's flags: the PID and network namespaces, a user namespace when not root
    pid_namespace: bool = False
    no_network: bool = False
    run_as: RunUser | None = None
    hidden: tuple[tuple[str, str], ...] = ()  # (what, absolute folder) covered in the run's mount namespace

    @property
    def reaper(self) -> bool:
        """True without a PID namespace: the reaper keeps the run's orphans below it and kills them if the trainer dies."""
        return not self.pid_namespace

    @property
    def covered(self) -> tuple[tuple[str, str], ...]:
        """The hidden folders, where the run has a mount namespace of its own to cover them in (never the host's)."""
        return self.hidden if "--mount-proc" in self.unshare else ()

    @property
    def label(self) -> str:
        """One word for run.finished's environment, e.g. pid-namespace+cgroup-v2+no-network+run-as-nobody."""
        parts = (["pid-namespace"] if self.pid_namespace else []) + ([f"cgroup-{self.cgroup}"] if self.cgroup else [])
        parts = parts or ["process-tree"]
        parts += (["no-network"] if self.no_network else []) + ([f"run-as-{self.run_as.name}"] if self.run_as else [])
        return "+".join(parts + [f"{what}-hidden" for what, _ in self.covered])

    def argv(self, command: str) -> list[str]:
        """The command line that runs a shell command so held (the cgroup is joined before it starts)."""
        argv = ["/bin/sh", "-c", command]
        if self.run_as:
            argv = self.run_as.switch() + argv
        if self.covered:  # before the change of user, which takes the right to mount away
            argv = [sys.executable, "-I", str(VEIL), *(folder for _, folder in self.covered), "--", *argv]
        if self.unshare:
            argv = ["unshare", *self.unshare, "--", *argv]
        if self.reaper:  # outside setpriv: a run as another user cannot kill its reaper
            argv = [sys.executable, "-I", str(REAPER), *argv]
        return argv

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The run's environment: the run user's home and name where runs change user."""
        if self.run_as is None:
            return env
        user = self.run_as
        return {**env, "HOME": user.home, "USER": user.name, "LOGNAME": user.name}

    def new_cgroup(self) -> RunCgroup | None:
        """A fresh cgroup for one run, where runs get one."""
        return RunCgroup.create(self.cgroup) if self.cgroup else None

    def open_room(self, cwd: Path) -> None:
        """Let the run user write in the run's folder: its group may add files, the sticky bit keeps others' files safe."""
        if self.run_as is None:
            return
        os.chown(cwd, -1, self.run_as.gid)
        os.chmod(cwd, stat.S_IMODE(cwd.stat().st_mode) | stat.S_ISVTX | stat.S_IRWXG)


def _works(argv: list[str], **options: object) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=_PROBE_TIMEOUT, **options).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@functools.cache
def _namespace_flags() -> tuple[str, ...] | None:
    """unshare's flags that let this user make namespaces: none for root, a user namespace otherwise; None: no way."""
    if shutil.which("unshare") is None:
        return None
    if os.geteuid() == 0:
        return ()
    for flags in (("--user", "--map-current-user"), ("--map-root-user",)):
        if _works(["unshare", *flags, "true"]):
            return flags
    return None


@functools.cache
def unshare_works(flags: tuple[str, ...]) -> bool:
    """True when `unshare FLAGS true` succeeds here."""
    return _works(["unshare", *flags, "--", "true"])


def _join(procs: str) -> None:
    fd = os.open(procs, os.O_WRONLY)
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)


def join_cgroup(cgroup: RunCgroup | None) -> None:
    """preexec_fn part: enter the run's cgroup before anything of the run starts."""
    if cgroup is not None:
        _join(cgroup.procs)


@functools.cache
def cgroup_works(version: str) -> bool:
    """True when this trainer can make a run's cgroup in the hierarchy of `version` and put a process in it."""
    try:
        cgroup = RunCgroup.create(version)
    except OSError:
        return False
    try:
        return _works(["true"], preexec_fn=functools.partial(join_cgroup, cgroup))
    finally:
        cgroup.remove()


def pid_namespace_flags() -> tuple[str, ...] | None:
    """unshare's flags that give a run a PID namespace and a /proc of its own here; None where it cannot have one."""
    flags = _namespace_flags()
    if flags is None or not unshare_works((*flags, *PID_NAMESPACE)):
        return None
    return (*flags, *PID_NAMESPACE)


def detect() -> Isolation:
    """The strongest containment this machine gives runs, with nothing extra asked for."""
    pid = pid_namespace_flags()
    cgroup = next((version for version in VERSIONS if cgroup_works(version)), None)
    return Isolation(cgroup=cgroup, unshare=pid or (), pid_namespace=pid is not None)


@functools.cache
def veil_works(flags: tuple[str, ...]) -> bool:
    """True when a run started with `unshare FLAGS` can have a folder of the host covered (veil.py)."""
    with tempfile.TemporaryDirectory(prefix="autoresearch-veil-") as folder:
        Path(folder, "seen").touch()
        return _works(["unshare", *flags, "--", sys.executable, "-I", str(VEIL), folder, "--",
                       "/bin/sh", "-c", 'test ! -e "$1/seen"', "sh", folder], cwd="/")


def hidden_folders(unshare: tuple[str, ...], **folders: Path | None) -> tuple[tuple[str, str], ...]:
    """The folders a run's mount namespace covers: those given, resolved, less any that holds the runs' rooms."""
    rooms = Path(tempfile.gettempdir()).resolve()  # where cleanroom.py makes each run's folder
    resolved = {what: path.resolve() for what, path in folders.items() if path is not None}
    wanted = tuple((what, str(path)) for what, path in resolved.items() if not rooms.is_relative_to(path))
    return wanted if wanted and veil_works(unshare) else ()


def plan(run_as: str | None = None, no_network: bool = False, state_dir: Path | None = None,
         workspace: Path | None = None) -> Isolation:
    """What runs get here with the isolation asked for; IsolationUnavailable when some of it cannot be had."""
    isolation = detect()
    unshare = isolation.unshare
    if no_network:
        flags = _namespace_flags()
        unshare = (*(unshare or flags or ()), "--net")
        if flags is None or not unshare_works(unshare):
            raise IsolationUnavailable(
                "--no-network needs a network namespace, and `unshare --net` is not allowed here "
                "(it needs root, or user namespaces); refusing to run with the network")
    user = RunUser.named(run_as) if run_as else None
    if user is not None:
        _check_run_user(user, state_dir)
    hidden = hidden_folders(unshare, state=state_dir, workspace=workspace) if isolation.pid_namespace else ()
    return Isolation(isolation.cgroup, unshare, isolation.pid_namespace, no_network, user, hidden)


def _check_run_user(user: RunUser, state_dir: Path | None) -> None:
    if os.geteuid() != 0:
        raise IsolationUnavailable(f"--run-as {user.name} needs the trainer to run as root, to change user for each run")
    if shutil.which("setpriv") is None or not _works([*user.switch(), "true"]):
        raise IsolationUnavailable(f"--run-as {user.name}: setpriv (util-linux) cannot start a process as that user")
    if state_dir is not None and state_dir.exists() and _works(
            [*user.switch(), "/bin/sh", "-c", 'test -r "$1" || test -x "$1"', "sh", str(state_dir)]):
        raise IsolationUnavailable(
            f"--run-as {user.name}: the state folder {state_dir} is readable by {user.name}; `chmod 700` it")
