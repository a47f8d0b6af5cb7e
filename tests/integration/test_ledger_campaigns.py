"""Ledgers of two campaigns on one server: each keeps its own consumers and records only its own campaign."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from services.ledger import consumers as ledger_consumers
from services.ledger.exits import API_EXIT
from shared.bus import STREAMS, Bus
from tests.ledger_support import CampaignScript, hand_computed_campaign, start_ledger


async def consumers_created(bus: Bus, durables: set[str]) -> dict[str, object]:
    """When each of the named durable consumers was created, on whichever stream holds it."""
    return {
        info.name: info.created for stream in STREAMS for info in await bus.js.consumers_info(stream)
        if info.name in durables
    }


async def wait_until_finished(url: str, campaign: str) -> None:
    """Poll until the ledger has stored the campaign's campaign.finished, its last event."""
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            summary = await http.get(f"{url}/api/campaigns/{campaign}/summary")
            if summary.status_code == 200 and summary.json()["finished"]:
                return
            await asyncio.sleep(0.05)
    raise AssertionError(f"the ledger never stored the end of {campaign}")


async def test_a_new_ledger_leaves_another_campaigns_consumers_alone(bus: Bus, tmp_path: Path) -> None:
    theirs = hand_computed_campaign("other").events
    other = await start_ledger(bus, tmp_path / "other", tag="other")
    try:
        for event in theirs[:5]:
            await bus.publish(event)
        before = await consumers_created(bus, ledger_consumers.durables("other"))
        assert len(before) == 2  # both of the other ledger's consumers exist

        mine = await start_ledger(bus, tmp_path / "mine", tag="mine")  # an empty store: it rebuilds from the start
        try:
            ours = CampaignScript("mine").start(0).baseline(1.0, 10, 70).finish(80).events
            for event in theirs[5:] + ours:
                await bus.publish(event)
            await wait_until_finished(other.url, "other")
            await wait_until_finished(mine.url, "mine")
            after = await consumers_created(bus, ledger_consumers.durables("other"))
            async with httpx.AsyncClient() as http:
                seen_by_mine = (await http.get(f"{mine.url}/api/campaigns")).json()
                seen_by_other = (await http.get(f"{other.url}/api/campaigns")).json()
        finally:
            await mine.close()
    finally:
        await other.close()

    assert after == before  # neither deleted nor recreated by the new ledger
    assert seen_by_mine == ["mine"] and seen_by_other == ["other"]
    assert len((tmp_path / "other" / "results.tsv").read_text().splitlines()) == 1 + 5


def test_a_ledger_whose_read_api_cannot_bind_exits_with_its_own_code(nats_server: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "autoresearch", "service", "ledger", "--state-dir", str(tmp_path),
             "--tag", "nov27", "--http-port", str(port)],
            env={**os.environ, "NATS_URL": nats_server}, capture_output=True, text=True, timeout=60,
        )

    assert done.returncode == API_EXIT, done.stdout + done.stderr
    assert "read API could not start" in done.stdout + done.stderr
