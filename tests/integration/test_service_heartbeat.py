"""A service's heartbeat on a real nats-server: there while it is connected and serving, gone once it stops."""

from __future__ import annotations

import asyncio
from pathlib import Path

from autoresearch.commands.health import heartbeat_problem
from shared.bus import Bus
from shared.runtime import heartbeat_path, heartbeats, serve_until_stopped
from shared.settings import ServiceSettings


async def test_a_running_service_beats_and_a_stopped_one_is_reported_down(nats_server: str, tmp_path: Path) -> None:
    state = tmp_path / "state"
    settings = ServiceSettings(nats_url=nats_server, state_dir=state, instance="editor-1")
    seen: dict[str, object] = {}

    async def serve(bus: Bus, stop: asyncio.Event) -> None:
        for _ in range(500):
            if heartbeats(state, "editor"):
                break
            await asyncio.sleep(0.01)
        seen["beating"] = [path.name for path in heartbeats(state, "editor")]
        seen["problem"] = heartbeat_problem(state, "editor", max_age=30)
        seen["connected"] = bus.nc.is_connected

    await serve_until_stopped("editor", settings, serve)

    assert seen == {"beating": [heartbeat_path(state, "editor", "editor-1").name], "problem": None, "connected": True}
    assert heartbeats(state, "editor") == []
    assert "no heartbeat" in heartbeat_problem(state, "editor", max_age=30)
    assert state.stat().st_mode & 0o777 == 0o700  # the trainer's state folder stays closed to its runs
