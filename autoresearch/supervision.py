"""The service processes `up` runs: started in their own session, restarted when they die, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from autoresearch.terminal import CONFIG_EXIT
from shared.processes import die_with_parent

MAX_RESTARTS = 5


@dataclass
class Supervised:
    """A service process, restarted if it dies unexpectedly."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0

    async def start(self) -> None:
        """Start the process, its output appended to its log."""
        with self.log_path.open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, env=self.env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
            )

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL to its process group after timeout seconds."""
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()

    def last_lines(self, count: int = 15) -> str:
        """The end of its log, to show why it stopped."""
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-count:])
        return ""


async def supervise(services: list[Supervised], stop: asyncio.Event, failure: list[str]) -> None:
    """Restart services that exit on their own; give up on configuration errors or crash loops."""
    while not stop.is_set():
        await asyncio.sleep(0.5)
        for service in services:
            code = service.process.returncode if service.process else None
            if code is None or stop.is_set():
                continue
            if code == CONFIG_EXIT or service.restarts >= MAX_RESTARTS:
                failure.append(f"the {service.name} service stopped (exit code {code}):\n{service.last_lines()}")
                stop.set()
                break
            service.restarts += 1
            await service.start()
