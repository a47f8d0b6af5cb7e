"""A run's guard: a small process beside the run that kills the run's whole process group if the trainer dies first.

The trainer holds the write end of the guard's stdin. When a run ends, the trainer kills what is left of
it itself, then writes one byte and closes the pipe: the guard leaves. When the trainer dies, even by
SIGKILL, the kernel closes the pipe with nothing written: the guard kills every process of the run. A
parent-death signal alone reaches only the trainer's direct child, not what that child started.

    python -m services.trainer.guard PGID LEADER_START BOOT_ID
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from services.trainer.run_group import RunGroup


class Guard:
    """The trainer's side of a run's guard."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, group: RunGroup) -> Guard:
        """Start the guard of a run's group, in a session of its own so that no group kill meant for others reaches it."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.trainer.guard", str(group.pgid), str(group.leader_start), group.boot,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL, start_new_session=True,
        )
        return cls(process)

    async def release(self) -> None:
        """The run is over and its processes are gone: let the guard leave without killing anything."""
        stdin = self.process.stdin
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.write(b"\n")
                stdin.close()
        await self.process.wait()


def main(argv: list[str]) -> None:
    """Wait for the trainer's word; on end-of-file without it, kill the run's group."""
    group = RunGroup(pgid=int(argv[0]), leader_start=int(argv[1]), boot=argv[2])
    if not sys.stdin.buffer.read(1):
        group.kill()


if __name__ == "__main__":
    main(sys.argv[1:])
