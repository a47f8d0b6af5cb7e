"""Running `autoresearch up` for a benchmark against a private NATS server, recording every finished run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import nats

from shared.embedded import EmbeddedNats


async def record_campaign(command: list[str], nats_dir: Path, env: dict[str, str] | None = None) -> tuple[float, list[dict]]:
    """Run the `up` command line; return its wall time and the run.finished events it produced."""
    server = EmbeddedNats(nats_dir)
    url = server.start()
    runs: list[dict] = []
    nc = await nats.connect(url)

    async def keep(msg) -> None:
        runs.append(json.loads(msg.data))

    await nc.subscribe("run.finished", cb=keep)
    started = time.monotonic()
    done = await asyncio.to_thread(subprocess.run, command, env={**os.environ, **(env or {}), "NATS_URL": url},
                                   capture_output=True, text=True)
    wall = time.monotonic() - started
    await nc.flush()
    await nc.close()
    server.stop()
    if done.returncode != 0:
        raise SystemExit(f"autoresearch up failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, runs
