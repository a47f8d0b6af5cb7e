"""Finding the service processes of one state folder by their command line, and killing or stopping processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path


def service_pids(state_dir: Path) -> dict[str, list[int]]:
    """Running `python -m autoresearch service NAME ... --state-dir STATE` processes of one state folder, by NAME."""
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = [part.decode(errors="replace") for part in (entry / "cmdline").read_bytes().split(b"\0")]
        except OSError:
            continue
        if "autoresearch" not in argv or "service" not in argv or "--state-dir" not in argv:
            continue
        name, state = argv.index("service") + 1, argv.index("--state-dir") + 1
        if name < len(argv) and state < len(argv) and argv[state] == str(state_dir):
            found.setdefault(argv[name], []).append(int(entry.name))
    return found


def kill(pid: int) -> None:
    """SIGKILL a process; one that is already gone is left be."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


async def kill_services_left_behind(state_dir: Path, timeout: float = 30.0) -> int:
    """Wait for the services of a dead `up` to stop by themselves; kill those still alive after timeout, and count them."""
    deadline = time.monotonic() + timeout
    while service_pids(state_dir) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    left = [pid for pids in service_pids(state_dir).values() for pid in pids]
    for pid in left:
        kill(pid)
    return len(left)


async def stop(process: subprocess.Popen, grace: float = 60.0) -> None:
    """SIGTERM a process still running, and SIGKILL it if it has not ended after grace seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            await asyncio.to_thread(process.wait, grace)
        if process.poll() is None:
            process.kill()
