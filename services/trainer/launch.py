"""Starting a run as its isolation says, its output through a pipe into a bounded run.log, and ending all of it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import structlog

from services.trainer.containment import Isolation, join_cgroup
from services.trainer.run_cgroup import RunCgroup
from services.trainer.run_log import OutputPipe, RunLog
from services.trainer.run_tree import RunTree
from services.trainer.shell import exec_form
from shared.processes import die_with_parent

log = structlog.get_logger("trainer")


def _prepare_child(cgroup: RunCgroup | None, death: int) -> None:
    """preexec_fn: die with the trainer, and join the run's cgroup before anything of the run starts."""
    die_with_parent(death)
    join_cgroup(cgroup)


@dataclass
class LaunchedRun:
    """A started run: its first process, every process it may start, and its output on the way to run.log."""

    process: asyncio.subprocess.Process
    tree: RunTree | None  # None where there is no /proc: only the process group can then be killed
    pipe: OutputPipe
    cgroup: RunCgroup | None

    async def kill(self) -> None:
        """Kill every process of the run now, and reap its first one."""
        await self._kill_tree()
        await self.process.wait()

    async def end(self) -> None:
        """After the run: kill what is left of it."""
        await self._kill_tree()

    async def drain(self) -> None:
        """Once every process of the run is gone: read its output to the end."""
        if not await self.pipe.drain():
            log.warning("a process outside the run's reach still holds its output; run.log stops here")

    async def _kill_tree(self) -> None:
        if self.tree is not None:
            await asyncio.to_thread(self.tree.kill)
            return
        with contextlib.suppress(ProcessLookupError):  # the leader is not yet reaped, so its group id is still its own
            if self.process.returncode is None:
                os.killpg(self.process.pid, signal.SIGKILL)
        if self.cgroup is not None:
            await asyncio.to_thread(_remove, self.cgroup)


async def launch(
    command: str, cwd: Path, env: dict[str, str], output: RunLog, isolation: Isolation, pass_fds: tuple[int, ...] = (),
) -> LaunchedRun:
    """Start the train command held as `isolation` says, in a session of its own, its stdout and stderr into output."""
    cgroup = await asyncio.to_thread(isolation.new_cgroup)
    read_end, write_end = os.pipe()
    try:
        await asyncio.to_thread(isolation.open_room, cwd)
        process = await asyncio.create_subprocess_exec(
            *isolation.argv(exec_form(command)), cwd=cwd, env=isolation.environment(env),
            stdin=asyncio.subprocess.DEVNULL, stdout=write_end, stderr=write_end, start_new_session=True,
            preexec_fn=functools.partial(_prepare_child, cgroup, _death_signal(isolation)), pass_fds=pass_fds,
        )
    except BaseException:
        os.close(read_end)
        if cgroup is not None:
            cgroup.remove()
        raise
    finally:
        os.close(write_end)  # the run holds the only write end: its end is the pipe's end
    try:
        pipe = await OutputPipe.open(read_end, output)
        tree = await asyncio.to_thread(RunTree.find, process.pid, cgroup, isolation.pid_namespace)
    except BaseException:  # cancelled while starting: nothing of the run may stay
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        if cgroup is not None:
            await asyncio.to_thread(_remove, cgroup)
        raise
    return LaunchedRun(process, tree, pipe, cgroup)


def _death_signal(isolation: Isolation) -> int:
    """What the run's first process gets when the trainer dies, before the run's guard is there to kill the rest.

    unshare ignores SIGTERM while it waits for the namespace, and dies of SIGKILL taking the namespace with it
    (--kill-child); the reaper takes SIGTERM as its word to kill everything below it.
    """
    return signal.SIGKILL if isolation.pid_namespace else signal.SIGTERM


def _remove(cgroup: RunCgroup) -> None:
    cgroup.kill()
    with contextlib.suppress(OSError):
        cgroup.remove()
