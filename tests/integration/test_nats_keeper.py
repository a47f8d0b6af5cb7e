"""`up` restarts its embedded NATS server when it dies: same port, same store, the services reconnect."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autoresearch.supervision import keep_nats_up
from shared.bus import connect
from shared.embedded import EmbeddedNats
from shared.events import VerdictDecided
from shared.replay import replay

HEAD = "a" * 40


def verdict(number: int) -> VerdictDecided:
    return VerdictDecided(campaign="c1", experiment_id=f"c1-{number:04d}", producer="test/1",
                          commit=f"{number:040d}", status="keep", head=HEAD)


async def test_a_killed_embedded_server_comes_back_on_its_port_with_its_store(tmp_path: Path):
    server = EmbeddedNats(tmp_path / "nats")
    url = server.start()
    bus = await connect(url, "test/keeper")
    await bus.publish(verdict(1))
    stop, failure, notices = asyncio.Event(), [], []
    keeper = asyncio.create_task(keep_nats_up(server, stop, failure, notices.append, every=0.05))
    try:
        first = server.process.pid
        server.kill()
        for _ in range(400):
            if server.process.pid != first and server.process.poll() is None and bus.nc.is_connected:
                break
            await asyncio.sleep(0.05)
        await bus.publish(verdict(2))  # the client reconnected to the restarted server
        assert [e.experiment_id for e in await replay(bus, [VerdictDecided])] == ["c1-0001", "c1-0002"]
        assert server.url == url and failure == []
        assert len(notices) == 1 and "restarting it on " + url in notices[0]
    finally:
        stop.set()
        await keeper
        await bus.close()
        server.stop()


class StoppingClock:
    """A clock whose waits return at once; after `checks` of them it sets stop."""

    def __init__(self, stop: asyncio.Event, checks: int) -> None:
        self.stop, self.checks, self.waits = stop, checks, 0

    def now(self) -> float:
        return float(self.waits)

    async def sleep(self, seconds: float) -> None:
        self.waits += 1
        if self.waits >= self.checks:
            self.stop.set()
        await asyncio.sleep(0)


async def test_a_server_that_stays_up_is_left_alone(tmp_path: Path):
    server = EmbeddedNats(tmp_path / "nats")
    server.start()
    stop, failure, notices = asyncio.Event(), [], []
    clock = StoppingClock(stop, checks=20)
    pid = server.process.pid
    await keep_nats_up(server, stop, failure, notices.append, clock=clock)
    server.stop()
    assert clock.waits == 20 and (server.process.pid, notices, failure) == (pid, [], [])
