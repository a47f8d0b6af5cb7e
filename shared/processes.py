"""Processes that do not outlive the process that started them, and whose secrets stay their own."""

from __future__ import annotations

import ctypes
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4


def _prctl(option: int, value: int) -> bool:
    """prctl(2) on Linux; False where it failed or there is none."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(option, value, 0, 0, 0) == 0


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """preexec_fn: ask Linux to send sig (SIGTERM) when the parent dies, even by SIGKILL (elsewhere: nothing)."""
    _prctl(PR_SET_PDEATHSIG, sig)


def keep_secrets_private() -> bool:
    """Make this process non-dumpable: no process of the same user but root may read its environment or memory.

    A training run is another program of the same user; /proc/<pid>/environ of the services and of `up`
    would otherwise hand it their keys and bus credentials. Best effort: False where Linux does not do it.
    The setting lasts until this process executes another program, so children are not affected.
    """
    return _prctl(PR_SET_DUMPABLE, 0)
