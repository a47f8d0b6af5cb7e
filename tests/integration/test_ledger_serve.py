"""The ledger service on a real nats-server: live SSE over real HTTP, and a store rebuilt from the stream."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shared.bus import Bus
from tests.ledger_support import CampaignScript, RunningLedger, hand_computed_campaign, start_ledger


@pytest.fixture
async def ledger(bus: Bus, tmp_path: Path) -> AsyncIterator[RunningLedger]:
    running = await start_ledger(bus, tmp_path / "state")
    yield running
    await running.close()


async def wait_until_finished(url: str, campaign: str) -> dict:
    """Poll until the ledger has stored the campaign's campaign.finished (its last event); return the experiments."""
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            summary = await http.get(f"{url}/api/campaigns/{campaign}/summary")
            if summary.status_code == 200 and summary.json()["finished"]:
                return (await http.get(f"{url}/api/campaigns/{campaign}/experiments", params={"limit": 500})).json()
            await asyncio.sleep(0.05)
    raise AssertionError(f"the ledger never stored the end of {campaign}")


async def read_until(lines: AsyncIterator[str], wanted: str) -> list[str]:
    """Lines of an SSE stream up to the first data line after `event: <wanted>`."""
    seen: list[str] = []
    async for line in lines:
        seen.append(line)
        if line.startswith("data: ") and len(seen) >= 2 and seen[-2] == f"event: {wanted}":
            return seen
    raise AssertionError(f"stream ended before {wanted}: {seen}")


async def test_sse_stream_delivers_a_verdict_published_after_the_client_connected(bus: Bus, ledger: RunningLedger) -> None:
    ours = CampaignScript("nov27").start(0).baseline(1.0, 10, 70).events
    theirs = CampaignScript("other").start(0).baseline(2.0, 10, 70).events
    await bus.publish(ours[0])
    async with httpx.AsyncClient(timeout=20) as http:
        async with http.stream("GET", f"{ledger.url}/api/events/stream", params={"campaign": "nov27"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("retry:")  # subscribed: what is stored from now on reaches us
            for event in theirs + ours[1:]:
                await bus.publish(event)
            seen = await asyncio.wait_for(read_until(lines, "verdict.decided"), 15)

    verdict = json.loads(seen[-1].removeprefix("data: "))
    assert verdict["event_id"] == ours[-1].event_id and verdict["campaign"] == "nov27"
    assert f"id: {ours[1].event_id}" in seen  # run.started came first, in order
    assert not any(theirs[-1].event_id in line for line in seen)


async def test_stream_resumes_after_last_event_id_from_the_store(bus: Bus, ledger: RunningLedger) -> None:
    events = hand_computed_campaign().events
    for event in events:
        await bus.publish(event)
    await wait_until_finished(ledger.url, "nov27")
    async with httpx.AsyncClient(timeout=20) as http:
        headers = {"Last-Event-ID": events[-3].event_id}
        async with http.stream("GET", f"{ledger.url}/api/events/stream", headers=headers) as response:
            seen = await asyncio.wait_for(read_until(response.aiter_lines(), "campaign.finished"), 15)

    assert [line.removeprefix("id: ") for line in seen if line.startswith("id: ")] == [e.event_id for e in events[-2:]]


async def test_store_rebuilds_from_the_stream_after_its_file_is_deleted(bus: Bus, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = await start_ledger(bus, state)
    for event in hand_computed_campaign().events:
        await bus.publish(event)
    before = await wait_until_finished(first.url, "nov27")
    await first.close()
    made = (state / "ledger", state / "ledger" / "events.sqlite3", state / "results.tsv")
    assert [stat.S_IMODE(path.stat().st_mode) for path in made] == [0o700, 0o600, 0o644]  # private but results.tsv
    for leftover in (state / "ledger").glob("events.sqlite3*"):  # the database and its WAL files
        leftover.unlink()
    (state / "results.tsv").unlink()

    second = await start_ledger(bus, state)
    try:
        after = await wait_until_finished(second.url, "nov27")
    finally:
        await second.close()

    assert after == before
    assert [row["status"] for row in after["items"]] == ["keep", "keep", "discard", "crash", "rejected", "keep"]
    assert len((state / "results.tsv").read_text().splitlines()) == 1 + 5
