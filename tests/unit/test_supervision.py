"""`up`'s supervisor on a fake clock: scattered deaths are restarted forever, a crash loop within the window ends `up`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from autoresearch.supervision import RestartBudget, Supervised, supervise


class FakeClock:
    """Time that moves only when the test or a backoff delay moves it."""

    def __init__(self) -> None:
        self.time = 0.0
        self.delays: list[float] = []

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.time += seconds


class FakeProcess:
    """A service process the test ends with an exit code."""

    def __init__(self) -> None:
        self.returncode: int | None = None
        self._ended = asyncio.Event()

    def end(self, code: int) -> None:
        self.returncode = code
        self._ended.set()

    async def wait(self) -> int:
        await self._ended.wait()
        return self.returncode


class FakeService(Supervised):
    """A supervised service whose starts the test can count and wait for."""

    def __init__(self, log_path: Path, **reasons: str) -> None:
        super().__init__("ledger", [], {}, log_path, exit_reasons={int(code): text for code, text in reasons.items()})
        self.starts = 0
        self.started = asyncio.Event()

    async def start(self) -> None:
        self.process = FakeProcess()
        self.starts += 1
        self.started.set()

    async def crash(self, code: int = 1) -> None:
        """End the current process with code, as a death would."""
        self.started.clear()
        self.process.end(code)


@pytest.fixture
def service(tmp_path: Path) -> FakeService:
    log = tmp_path / "ledger.log"
    log.write_text("starting\nread API could not start; is the port taken?\n")
    return FakeService(log, **{"3": "its read API could not start or stopped serving"})


async def until_restarted_or_stopped(service: FakeService, stop: asyncio.Event) -> None:
    waiters = {asyncio.create_task(service.started.wait()), asyncio.create_task(stop.wait())}
    _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in pending:
        waiter.cancel()


def test_budget_allows_k_restarts_in_the_window_with_growing_delays() -> None:
    budget = RestartBudget(limit=5, window=600.0, first_delay=0.5, max_delay=4.0)

    delays = [budget.spend(now=10.0 * i) for i in range(6)]

    assert delays == [0.5, 1.0, 2.0, 4.0, 4.0, None]
    assert budget.spend(now=600.0 + 10.0) == 4.0  # the first restart left the window: one more is allowed


def test_budget_never_runs_out_for_crashes_far_apart() -> None:
    budget = RestartBudget(limit=5, window=600.0)

    delays = [budget.spend(now=3600.0 * hour) for hour in range(24)]

    assert delays == [0.5] * 24  # each crash is the only one in its window: the shortest delay every time


async def test_scattered_crashes_over_a_night_are_restarted_every_time(service: FakeService) -> None:
    clock, stop, failure, notices = FakeClock(), asyncio.Event(), [], []
    await service.start()
    supervisor = asyncio.create_task(supervise([service], stop, failure, notices.append, clock))

    for _ in range(12):  # one crash every 45 minutes for nine hours
        clock.time += 45 * 60
        await service.crash()
        await until_restarted_or_stopped(service, stop)
    stop.set()
    await supervisor

    assert failure == [] and service.starts == 1 + 12
    assert len(notices) == 12 and all("the ledger service stopped" in line and "restarting" in line for line in notices)


async def test_a_crash_loop_within_the_window_ends_up_with_the_last_log_lines(service: FakeService) -> None:
    clock, stop, failure, notices = FakeClock(), asyncio.Event(), [], []
    await service.start()
    supervisor = asyncio.create_task(supervise([service], stop, failure, notices.append, clock))

    for _ in range(6):  # five restarts spend the budget; the sixth death within ten minutes ends `up`
        clock.time += 30
        await service.crash(code=3)
        await until_restarted_or_stopped(service, stop)
    await supervisor

    assert stop.is_set() and service.starts == 1 + 5
    assert clock.delays == [0.5, 1.0, 2.0, 4.0, 8.0]
    assert "its read API could not start" in notices[0]
    assert len(failure) == 1 and "the ledger service stopped (exit code 3" in failure[0]
    assert "after 5 restarts within 10 minutes" in failure[0]
    assert "read API could not start; is the port taken?" in failure[0]


async def test_a_configuration_error_ends_up_without_a_restart(service: FakeService) -> None:
    clock, stop, failure, notices = FakeClock(), asyncio.Event(), [], []
    await service.start()
    supervisor = asyncio.create_task(supervise([service], stop, failure, notices.append, clock))

    await service.crash(code=2)
    await supervisor

    assert service.starts == 1 and stop.is_set() and "exit code 2" in failure[0] and notices == []
