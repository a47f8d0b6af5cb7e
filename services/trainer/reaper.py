"""A run's reaper, where neither a cgroup nor a PID namespace holds the run.

It runs the train command as its child and is a child subreaper: a process of the run whose parent dies
(a double fork, a daemon that called setsid) becomes the reaper's child instead of init's, so every
process of the run stays below the reaper. When the command ends, or the reaper is told to stop, it kills
whatever is left below it before it exits with the command's status. Standard library only, so that it
starts with `python -I` whatever the run's environment holds.

    python -I reaper.py PROGRAM [ARG...]
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_CHILD_SUBREAPER = 36


def children() -> list[int]:
    """This process's children, from /proc."""
    me, found = os.getpid(), []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == me:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def kill_all_below() -> None:
    """Kill the children, take on their orphans, and again, until no child is left."""
    while True:
        for pid in children():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def stop(signum: int, frame: object) -> None:
    """The trainer stops or died: nothing of the run is left behind."""
    kill_all_below()
    os._exit(128 + signum)


def main(argv: list[str]) -> int:
    """Run argv below this subreaper; return its exit status once everything it started is gone."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print("reaper: this system cannot make a child subreaper", file=sys.stderr)
        return 125
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    command = os.fork()
    if command == 0:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        try:
            os.execvp(argv[0], argv)
        except OSError as exc:
            print(f"reaper: cannot run {argv[0]}: {exc}", file=sys.stderr)
            os._exit(127)
    while True:
        pid, status = os.waitpid(-1, 0)  # orphans of the run are reaped here as they die
        if pid == command:
            break
    kill_all_below()
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))  # end the way the command ended
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
