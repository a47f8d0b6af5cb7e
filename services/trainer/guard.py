"""A run's guard: a small process beside the run that kills the run's whole tree if the trainer dies first.

The trainer holds the write end of the guard's stdin. When a run ends, the trainer kills what is left of
it itself, then writes one byte and closes the pipe: the guard leaves. When the trainer dies, even by
SIGKILL, the kernel closes the pipe with nothing written: the guard kills every process of the run, the
same tree the trainer would have killed (its cgroup, its PID namespace, its process group and descendants).
A parent-death signal alone reaches only the trainer's direct child, not what that child started.

Where neither a cgroup nor a PID namespace holds the run, the guard also remembers every process it sees
in the run while it waits, so that one orphaned after the run killed its reaper is still killed: at the
trainer's death, and at the run's end, when the trainer's word comes.

    python -m services.trainer.guard TREE_JSON
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import sys
from pathlib import Path

from services.trainer.run_group import ProcessRef
from services.trainer.run_tree import RunTree
from shared.processes import keep_secrets_private

_PROJECT = str(Path(__file__).resolve().parents[2])
WATCH_EVERY = 0.1  # seconds between looks at the run's processes, where only its process tree holds it


def guard_environment() -> dict[str, str]:
    """Only what the guard needs to start: it holds no secret that a run could read from /proc."""
    path = os.environ.get("PYTHONPATH", "")
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": f"{_PROJECT}:{path}" if path else _PROJECT}


class Guard:
    """The trainer's side of a run's guard."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, tree: RunTree) -> Guard:
        """Start the guard of a run's tree, in a session of its own so that no group kill meant for others reaches it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.trainer.guard", tree.to_json(), env=guard_environment(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        return cls(process)

    async def release(self) -> None:
        """The trainer killed the run's tree: the guard kills only what it saw of the run elsewhere, and leaves."""
        stdin = self.process.stdin
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.write(b"\n")
                stdin.close()
        await self.process.wait()


def main(argv: list[str]) -> None:
    """Wait for the trainer's word; on end-of-file without it, kill the run's tree."""
    keep_secrets_private()
    tree = RunTree.from_json(argv[0])
    stdin = sys.stdin.buffer
    seen: dict[int, ProcessRef] = {}
    while tree.held_by_processes_only and not select.select([stdin], [], [], WATCH_EVERY)[0]:
        seen.update((ref.pid, ref) for ref in tree.group.snapshot(seen.values()))
    if stdin.read(1):  # the trainer killed the run's tree; what was seen of it may have left that tree
        tree.group.sweep(seen.values(), group=False)
    else:
        tree.kill(also=seen.values())


if __name__ == "__main__":
    main(sys.argv[1:])
