"""Covering folders of the trainer's host (its state folder, the workspace) for a run, inside the run's mount namespace.

Run inside the namespace that unshare made, before the train command. It keeps its mounts from reaching the
host (private propagation), covers each PATH with an empty read-only tmpfs that no one may enter, takes away
the right to mount and unmount (so a run as root cannot lift a cover), then becomes PROGRAM. A PATH that
holds the working directory (the run's clean room) is left uncovered: the run needs its room. Any other
PATH that cannot be covered stops the run here, before anything of it starts. Standard library only, so
that it starts with `python -I` whatever the run's environment holds.

    python -I veil.py PATH... -- PROGRAM [ARG...]
"""

from __future__ import annotations

import ctypes
import os
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REC, MS_PRIVATE = 1 << 14, 1 << 18
PR_CAPBSET_DROP, CAP_SYS_ADMIN = 24, 21
COVER_OPTIONS = b"size=4k,mode=000"
REFUSED = 125


class VeilError(OSError):
    """A folder could not be covered; the message says which and why."""


def _mount(libc: ctypes.CDLL, source: bytes | None, target: str, fstype: bytes | None, flags: int,
           data: bytes | None) -> None:
    if libc.mount(source, target.encode(), fstype, flags, data) != 0:
        errno = ctypes.get_errno()
        raise VeilError(errno, f"cannot cover {target}: {os.strerror(errno)}")


def holds(folder: str, path: str) -> bool:
    """True when path is folder or lies below it."""
    return os.path.commonpath([folder, path]) == folder


def cover(paths: list[str], room: str) -> list[str]:
    """Cover every existing path that does not hold the room; return those covered. Raises VeilError."""
    libc = ctypes.CDLL(None, use_errno=True)
    # A new mount namespace may still share its mounts with the host's; private ones never travel back.
    _mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
    covered = []
    # The deepest first: once a folder is covered, what lies below it can no longer be reached to cover.
    for path in sorted({os.path.realpath(p) for p in paths}, key=len, reverse=True):
        if holds(path, room) or not os.path.isdir(path):
            continue
        _mount(libc, b"none", path, b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, COVER_OPTIONS)
        covered.append(path)
    # Without CAP_SYS_ADMIN after the exec below, a run as root cannot unmount a cover to see what it hides.
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise VeilError(errno, f"cannot keep the run from unmounting: {os.strerror(errno)}")
    return covered


def main(argv: list[str]) -> int:
    """Cover the paths before `--`, then exec the program after it; REFUSED when a path cannot be covered."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: veil.py PATH... -- PROGRAM [ARG...]", file=sys.stderr)
        return 2
    split = argv.index("--")
    paths, program = argv[:split], argv[split + 1:]
    try:
        cover(paths, os.path.realpath(os.getcwd()))
    except OSError as exc:
        print(f"veil: {exc.strerror or exc}; the run does not start", file=sys.stderr)
        return REFUSED
    try:
        os.execvp(program[0], program)
    except OSError as exc:
        print(f"veil: cannot run {program[0]}: {exc}", file=sys.stderr)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
