"""How `up` starts and stops its services: the trainer first and alone, then the others; every one stopped at once."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from autoresearch.supervision import Supervised, beating, start_in_turn, stop_all
from shared.runtime import heartbeat_path


class FakeProcess:
    """A service process that ends, once waited for, after SIGTERM; each signal and wait is noted in a shared journal."""

    def __init__(self, name: str, journal: list[str]) -> None:
        self.name, self.journal = name, journal
        self.pid = -1  # never signalled for real: only a process that ignores SIGTERM gets a killpg
        self.returncode: int | None = None
        self._code: int | None = None
        self._ended = asyncio.Event()

    def send_signal(self, sig: int) -> None:
        self.journal.append(f"{signal.Signals(sig).name} {self.name}")
        self._code = -sig
        self._ended.set()

    def end(self, code: int) -> None:
        self.returncode = code

    async def wait(self) -> int:
        self.journal.append(f"wait {self.name}")
        await self._ended.wait()
        self.returncode = self._code
        return self.returncode


class FakeService(Supervised):
    """A supervised service whose process is a FakeProcess."""

    def __init__(self, name: str, journal: list[str], log_path: Path) -> None:
        super().__init__(name, [], {}, log_path)
        self.journal = journal

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        self.process = FakeProcess(self.name, self.journal)


def fakes(journal: list[str], tmp_path: Path, *names: str) -> list[FakeService]:
    return [FakeService(name, journal, tmp_path / f"{name}.log") for name in names]


async def test_stop_all_signals_every_service_before_waiting_for_any(tmp_path: Path) -> None:
    journal: list[str] = []
    services = fakes(journal, tmp_path, "trainer", "evaluator", "editor", "proposer", "ledger")
    for service in services:
        await service.start()
    journal.clear()
    await stop_all(services)
    signals = [entry for entry in journal if entry.startswith("SIGTERM")]
    assert signals == [f"SIGTERM {service.name}" for service in services]
    first_wait = next(index for index, entry in enumerate(journal) if entry.startswith("wait"))
    assert first_wait == len(services)  # five signals, and only then the waiting
    assert all(service.process.returncode == -signal.SIGTERM for service in services)


async def test_stop_all_leaves_alone_a_service_that_already_ended(tmp_path: Path) -> None:
    journal: list[str] = []
    ended, running = fakes(journal, tmp_path, "editor", "ledger")
    await ended.start()
    await running.start()
    ended.process.end(1)
    await stop_all([ended, running])
    assert "SIGTERM editor" not in journal and "SIGTERM ledger" in journal


async def test_the_others_start_only_once_the_first_is_ready(tmp_path: Path) -> None:
    journal: list[str] = []
    services = fakes(journal, tmp_path, "trainer", "evaluator", "ledger")
    ready = asyncio.Event()
    starting = asyncio.create_task(start_in_turn(services, ready.is_set, within=60))
    while "start trainer" not in journal:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # the trainer is not ready yet: nothing else may start meanwhile
    assert journal == ["start trainer"]
    ready.set()
    await asyncio.wait_for(starting, 10)
    assert journal == ["start trainer", "start evaluator", "start ledger"]


async def test_the_others_start_when_the_first_dies_before_it_is_ready(tmp_path: Path) -> None:
    journal: list[str] = []
    services = fakes(journal, tmp_path, "trainer", "ledger")
    starting = asyncio.create_task(start_in_turn(services, lambda: False, within=60))
    while "start trainer" not in journal:
        await asyncio.sleep(0.01)
    services[0].process.end(1)  # the supervisor restarts it; the others are not held back by it
    await asyncio.wait_for(starting, 10)
    assert journal == ["start trainer", "start ledger"]


def test_a_service_is_ready_once_it_beats_after_it_was_started(tmp_path: Path) -> None:
    stale = heartbeat_path(tmp_path, "trainer", "host-1")
    stale.parent.mkdir(parents=True)
    stale.touch()
    os.utime(stale, (time.time() - 60, time.time() - 60))  # left by a trainer of an earlier `up`
    ready = beating(tmp_path, "trainer")
    assert not ready()
    heartbeat_path(tmp_path, "trainer", "host-2").touch()
    assert ready()
    assert not beating(tmp_path, "evaluator")()
