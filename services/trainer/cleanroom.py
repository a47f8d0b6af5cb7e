"""The clean room of one run: a fresh private folder holding exactly the commit's files, checked and removed after it.

A run happens outside the workspace, so it sees no `.git` (no hooks to plant), no state folder, nothing an
earlier run left behind, and its changes to the files it must not change are caught before its result counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import git
import structlog

from services.trainer.runner import RunOutcome, tail
from shared.edits import EDITABLE
from shared.gitobjects import TREE_MODE, tree_entries

log = structlog.get_logger("trainer")

ROOM_PREFIX = "autoresearch-room-"
# Untracked data a run needs, copied into each room: the bundled workspace's prepare.py keeps its data in
# .cache/ beside itself. A copy, so that no run can change what the next one reads.
DATA_FOLDERS = (".cache",)
FILE_MODES = {"100644": 0o644, "100755": 0o755}  # links and submodules are left out of rooms
NAMES_SHOWN = 5


@dataclass
class CleanRoom:
    """One run's folder, and the files it must not change, fingerprinted in it and in the workspace."""

    path: Path
    workspace: Path
    protected: list[str]
    before: dict[str, str | None]
    workspace_before: dict[str, str | None]

    @classmethod
    def build(cls, repo: git.Repo, commit: str, workspace: Path) -> CleanRoom:
        """A new folder (mode 0700, in the temp folder): the workspace's data, then commit's files from git's objects."""
        path = Path(tempfile.mkdtemp(prefix=f"{ROOM_PREFIX}{os.getpid()}-"))
        try:
            _copy_data(workspace, path)
            names = _write_tree(repo, commit, path)
        except BaseException:
            remove_room(path)
            raise
        protected = sorted((n for n in names if n != EDITABLE), key=lambda n: (n != "prepare.py", n))
        return cls(path, workspace, protected, fingerprint(path, protected), fingerprint(workspace, protected))

    def changes(self) -> list[str]:
        """Why the run cannot count: the protected files it changed, in the room or in the workspace; empty if none."""
        reasons = []
        for root, before, where in ((self.path, self.before, ""),
                                    (self.workspace, self.workspace_before, " (the workspace's copy)")):
            after = fingerprint(root, self.protected)
            changed = [name for name in self.protected if after[name] != before[name]]
            if changed:
                reasons.append(f"{_listed(changed)} {'was' if len(changed) == 1 else 'were'} changed by the run{where}")
        return reasons

    def remove(self) -> None:
        """Delete the room and whatever the run left in it."""
        remove_room(self.path)


def _listed(names: list[str]) -> str:
    more = len(names) - NAMES_SHOWN
    return ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _write_tree(repo: git.Repo, commit: str, room: Path) -> list[str]:
    """Write commit's files into room from their blobs: no checkout, so no filter, hook or attribute runs.

    Trees and blobs are read through the repository's long-lived `git cat-file`: no git process per room.
    """
    names: list[str] = []
    _write_entries(repo, git.Commit(repo, bytes.fromhex(commit)).tree.binsha, room, "", names)
    return names


def _write_entries(repo: git.Repo, tree: bytes, room: Path, prefix: str, names: list[str]) -> None:
    for oid, mode, entry in tree_entries(repo, tree):
        name = prefix + entry
        parts = PurePosixPath(name).parts
        unsafe = name.startswith("/") or "/" in entry or bool({"..", ".git"} & {part.lower() for part in parts})
        if mode == TREE_MODE and not unsafe:
            _write_entries(repo, oid, room, f"{name}/", names)
            continue
        if f"{mode:o}" not in FILE_MODES or unsafe:
            log.warning("tracked entry left out of the room", name=name, mode=f"{mode:o}")
            continue
        target = room.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)  # a data file of the same name: the commit's own wins
        with open(target, "wb") as file:
            shutil.copyfileobj(repo.odb.stream(oid), file)
        target.chmod(FILE_MODES[f"{mode:o}"])
        names.append(name)


def _copy_data(workspace: Path, room: Path) -> None:
    """Copy the workspace's data folders in; one that cannot be copied is left out and the run says what it missed."""
    for folder in DATA_FOLDERS:
        source = workspace / folder
        if source.is_dir() and not source.is_symlink():
            try:
                shutil.copytree(source, room / folder, ignore_dangling_symlinks=True)
            except (OSError, shutil.Error) as exc:
                log.warning("data folder not copied into the room", folder=folder, error=str(exc)[:500])


def fingerprint(root: Path, names: Iterable[str]) -> dict[str, str | None]:
    """The sha256 of each named file under root (a link's target for a link); None for one missing or not a file."""
    prints: dict[str, str | None] = {}
    for name in names:
        path = root / name
        try:
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                prints[name] = "link:" + os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                with path.open("rb") as file:
                    prints[name] = hashlib.file_digest(file, "sha256").hexdigest()
            else:
                prints[name] = None
        except OSError:
            prints[name] = None
    return prints


def remove_room(path: Path) -> None:
    """Delete a room, first giving back the permissions a run may have taken from its folders."""
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    for folder, subfolders, _ in os.walk(path):
        for name in subfolders:
            with contextlib.suppress(OSError):
                if not os.path.islink(os.path.join(folder, name)):
                    os.chmod(os.path.join(folder, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        log.warning("room not fully removed", room=str(path))


def sweep_rooms() -> None:
    """Remove the rooms that trainers which are no longer running left behind (a trainer killed outright)."""
    for entry in Path(tempfile.gettempdir()).glob(f"{ROOM_PREFIX}*"):
        pid = entry.name.removeprefix(ROOM_PREFIX).partition("-")[0]
        with contextlib.suppress(OSError, ValueError):
            info = entry.lstat()
            if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not _alive(int(pid)):
                remove_room(entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RoomKeeper(Protocol):
    """What holds rooms: the workspace, whose check_out holds the room of the next run."""

    def take_room(self) -> CleanRoom: ...


RunCommand = Callable[..., Awaitable[RunOutcome]]


def room_runner(workspace: RoomKeeper, run: RunCommand) -> RunCommand:
    """The trainer's run command: each run in the room check_out built, a crash if it changed a protected file."""

    async def run_in_room(**labels: Any) -> RunOutcome:
        room = workspace.take_room()
        try:
            outcome = await run(cwd=room.path, **labels)
            reasons = await asyncio.to_thread(room.changes)
        finally:
            await asyncio.to_thread(room.remove)
        if not reasons:
            return outcome
        log.warning("run changed files it must not change", reasons=reasons, experiment_id=labels.get("experiment_id"))
        text = outcome.log_tail.rstrip() + "".join(f"\nautoresearch: {reason}" for reason in reasons)
        return dataclasses.replace(outcome, status="crash", log_tail=tail(text))

    return run_in_room
