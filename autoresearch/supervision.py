"""The service processes `up` runs: started in their own session, restarted when they die, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from autoresearch.terminal import CONFIG_EXIT
from shared.embedded import EmbeddedNats, EmbeddedNatsError
from shared.processes import die_with_parent
from shared.runtime import beating_since

RESTARTS_PER_WINDOW = 5
RESTART_WINDOW = 600.0  # seconds: crashes further apart than this never add up to a crash loop
FIRST_START_WAIT = 5.0  # seconds the other services wait at most for the first one to be ready


class Clock(Protocol):
    """Where the supervisor reads the time and waits; tests give it one that needs no sleeping."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The monotonic clock and real waiting."""

    def now(self) -> float:
        """Seconds on the monotonic clock."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait seconds."""
        await asyncio.sleep(seconds)


@dataclass
class RestartBudget:
    """At most `limit` restarts in any `window` seconds, each after a longer delay than the one before (capped)."""

    limit: int = RESTARTS_PER_WINDOW
    window: float = RESTART_WINDOW
    first_delay: float = 0.5
    max_delay: float = 30.0
    recent: deque[float] = field(default_factory=deque)

    def spend(self, now: float) -> float | None:
        """Take one restart at `now`: the delay to wait before it, or None when the window's restarts are spent."""
        while self.recent and now - self.recent[0] >= self.window:
            self.recent.popleft()
        if len(self.recent) >= self.limit:
            return None
        delay = min(self.first_delay * 2 ** len(self.recent), self.max_delay)
        self.recent.append(now)
        return delay


@dataclass
class Supervised:
    """A service process, restarted if it dies unexpectedly."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    exit_reasons: dict[int, str] = field(default_factory=dict)  # what the service means by an exit code of its own
    process: asyncio.subprocess.Process | None = None
    budget: RestartBudget = field(default_factory=RestartBudget)

    async def start(self) -> None:
        """Start the process, its output appended to its log."""
        with self.log_path.open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                *self.args, env=self.env, stdout=log_file, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True, preexec_fn=die_with_parent,
            )

    async def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL to its process group after timeout seconds."""
        self.terminate()
        await self.stopped(timeout)

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM); it finishes its current work and drains its bus connection."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)

    async def stopped(self, timeout: float = 30.0) -> None:
        """Wait for the process to end, killing its process group (SIGKILL) after timeout seconds."""
        if self.process is None or self.process.returncode is not None:
            return
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

    def why(self, code: int) -> str:
        """How the process ended, in words: its exit code and what the service means by it, or the signal."""
        if code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        reason = self.exit_reasons.get(code)
        return f"exit code {code}" + (f": {reason}" if reason else "")


def beating(state_dir: Path, name: str) -> Callable[[], bool]:
    """A check that an instance of the named service has touched its heartbeat file since now: it is connected."""
    since = time.time()
    return lambda: beating_since(state_dir, name, since)


async def start_in_turn(
    services: list[Supervised], first_ready: Callable[[], bool], within: float = FIRST_START_WAIT, every: float = 0.02,
) -> None:
    """Start the first service alone, and the others once it is ready, has died, or `within` seconds have passed.

    The first is the one the campaign waits for (the trainer, for its baseline): started alone, it has the
    machine to itself while it imports and connects instead of sharing it with every other service's start.
    """
    first, rest = services[0], services[1:]
    await first.start()
    deadline = time.monotonic() + within
    while not first_ready() and first.process.returncode is None and time.monotonic() < deadline:
        await asyncio.sleep(every)
    for service in rest:
        await service.start()


async def stop_all(services: list[Supervised], timeout: float = 30.0) -> None:
    """Stop every service at once: SIGTERM to all first, then wait for all, each killed after its own timeout."""
    for service in services:
        service.terminate()
    await asyncio.gather(*(service.stopped(timeout) for service in services))


async def _unless_stopped(work: Awaitable[object], stop: asyncio.Event) -> bool:
    """Await work unless stop comes first (work is then cancelled); True when work finished."""
    task, stopper = asyncio.ensure_future(work), asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for waiter in (task, stopper):
        waiter.cancel()
    return task.done() and not task.cancelled()


async def _watch(
    service: Supervised, stop: asyncio.Event, failure: list[str], notice: Callable[[str], None], clock: Clock,
) -> None:
    """Restart one service each time it exits on its own, until stop or until it cannot be kept running."""
    while service.process is not None and await _unless_stopped(service.process.wait(), stop):
        code = service.process.returncode
        delay = None if code == CONFIG_EXIT else service.budget.spend(clock.now())
        if delay is None:
            spent = "" if code == CONFIG_EXIT else (
                f" after {service.budget.limit} restarts within {service.budget.window / 60:g} minutes")
            failure.append(f"the {service.name} service stopped ({service.why(code)}){spent}:\n{service.last_lines()}")
            stop.set()
            return
        notice(f"the {service.name} service stopped ({service.why(code)}); restarting it in {delay:g} s")
        if not await _unless_stopped(clock.sleep(delay), stop):
            return
        await service.start()  # never cancelled half-way: a process started is always one `up` can stop


async def supervise(
    services: list[Supervised], stop: asyncio.Event, failure: list[str],
    notice: Callable[[str], None] = lambda text: None, clock: Clock | None = None,
) -> None:
    """Restart services that exit on their own, within each one's restart budget, saying so through notice.

    A configuration error (exit code 2) or a budget spent within its window sets stop and leaves the
    reason, with the end of the service's log, in failure.
    """
    clock = clock or SystemClock()
    await asyncio.gather(*(_watch(service, stop, failure, notice, clock) for service in services))


async def keep_nats_up(
    server: EmbeddedNats, stop: asyncio.Event, failure: list[str],
    notice: Callable[[str], None] = lambda text: None, clock: Clock | None = None, every: float = 0.5,
) -> None:
    """Restart the embedded NATS server on its port and store when it dies, within a restart budget.

    The services reconnect by themselves; without this a dead embedded server would stall the campaign
    until `up` is stopped. The restart happens on this (the main) thread, so the server still dies with `up`.
    """
    clock, budget = clock or SystemClock(), RestartBudget()
    while await _unless_stopped(clock.sleep(every), stop) and not stop.is_set():
        code = server.process.poll() if server.process is not None else None
        if code is None:
            continue
        delay = budget.spend(clock.now())
        if delay is None:
            failure.append(f"the embedded NATS server stopped (exit code {code}) {budget.limit} times within "
                           f"{budget.window / 60:g} minutes; its log is {server.data_dir / 'nats-server.log'}")
            stop.set()
            return
        notice(f"the embedded NATS server stopped (exit code {code}); restarting it on {server.url} in {delay:g} s")
        if not await _unless_stopped(clock.sleep(delay), stop):
            return
        try:
            server.start()
        except EmbeddedNatsError as exc:
            notice(f"the embedded NATS server did not start again: {exc}")
