"""The dashboard in a real headless Chromium, driven over the DevTools protocol, following a live campaign."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from shared.bus import Bus
from tests.ledger_support import CampaignScript, RunningLedger, start_ledger

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium); the dashboard needs a real browser",
)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--remote-debugging-port=0", "--window-size=1400,1500"]


class DevTools:
    """A page driven over the Chrome DevTools protocol; uncaught page errors are collected."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.calls = 0
        self.page_errors: list[str] = []

    async def call(self, method: str, **params: Any) -> dict:
        """Send one command and return its result, keeping the events that arrive meanwhile."""
        self.calls += 1
        ident = self.calls
        await self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("method") == "Runtime.exceptionThrown":
                self.page_errors.append(message["params"]["exceptionDetails"].get("exception", {}).get("description", "?"))
            if message.get("id") == ident:
                assert "error" not in message, message["error"]
                return message["result"]

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 15.0) -> Any:
        """Poll an expression until it is truthy; fail with its last value."""
        value = None
        for _ in range(int(timeout / 0.1)):
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"{expression} stayed {value!r}; page errors: {self.page_errors}")

    async def screenshot(self, path: Path) -> bytes:
        """Save the whole page as a PNG."""
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path.read_bytes()


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[DevTools]:
    """A headless Chromium with a fresh profile, and a DevTools session on its first page."""
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            await asyncio.sleep(0.05)
        port = port_file.read_text().split()[0]
        async with httpx.AsyncClient() as http:
            targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        page = next(t for t in targets if t["type"] == "page")
        async with connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
            tools = DevTools(socket)
            await tools.call("Runtime.enable")
            yield tools
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
async def ledger(bus: Bus, tmp_path: Path) -> AsyncIterator[RunningLedger]:
    running = await start_ledger(bus, tmp_path / "state")
    yield running
    await running.close()


FRESH = "[...document.querySelectorAll('tr.fresh')].map(r => r.dataset.experiment)"
ROWS = ("[...document.querySelectorAll('#experiments tbody tr')]"
        ".map(r => r.dataset.experiment + ' ' + r.querySelector('.badge').textContent)")


async def test_dashboard_shows_a_campaign_and_follows_it_live(bus: Bus, ledger: RunningLedger, tmp_path: Path) -> None:
    script = CampaignScript("nov27").start(0).baseline(1.0, 10, 70)
    script.experiment("raise the learning rate", 0.99, 75, 135)
    script.experiment("switch to GeLU", None, 140, 150)
    for event in script.events:
        await bus.publish(event)
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            if (await http.get(f"{ledger.url}/api/campaigns/nov27/summary")).json().get("experiments_total") == 3:
                break
            await asyncio.sleep(0.05)

    async with chromium(tmp_path / "profile") as page:
        await page.call("Page.enable")
        await page.call("Page.navigate", url=f"{ledger.url}/")
        await page.wait_for("document.body?.dataset.loaded === '1' && document.body.dataset.live === '1'")
        assert await page.evaluate(ROWS) == ["nov27-0002 crash", "nov27-0001 keep", "nov27-0000 keep"]
        assert await page.evaluate(FRESH) == []
        assert await page.evaluate("document.getElementById('s-best').textContent") == "0.990000"
        assert await page.evaluate("document.querySelectorAll('#chart [data-experiment]').length") == 3

        # a run starts and reports a step line: the current-run panel follows without a reload
        running = len(script.events)
        script.running("wider MLP", start=160, step=40, percent=40.0, loss=2.5, progress_at=170)
        for event in script.events[running:]:
            await bus.publish(event)
        await page.wait_for("document.getElementById('run-percent').textContent === '40.0%'")
        assert await page.evaluate("document.getElementById('run-description').textContent") == "wider MLP"

        # a new verdict arrives: table, summary and chart update in place
        decided = len(script.events)
        script.experiment("longer warmup", 0.97, 200, 260)
        for event in script.events[decided:]:
            await bus.publish(event)
        rows = await page.wait_for(f"(rows => rows.length === 5 && rows)({ROWS})")
        assert rows[0] == "nov27-0004 keep"
        assert await page.evaluate(FRESH) == ["nov27-0004"]  # only what changed is highlighted
        await page.wait_for("document.getElementById('s-best').textContent === '0.970000'")
        assert await page.evaluate("document.querySelectorAll('#chart circle.keep').length") == 3
        assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1  # never reloaded
        shot = await page.screenshot(tmp_path / "dashboard.png")

        # the diff of a crashed experiment is one click away
        await page.evaluate("document.querySelector('tr[data-experiment=\"nov27-0002\"]').click()")
        diff = await page.wait_for("document.getElementById('detail').open && document.querySelector('#detail pre.diff')?.textContent")
        assert "+LEARNING_RATE = 0.02  # switch to GeLU" in diff
        environment = await page.evaluate("document.getElementById('d-body').textContent")
        assert "gpu-box-7" in environment and "out of memory" in environment
        await page.screenshot(tmp_path / "dashboard-detail.png")

        # a change too close to call: the page says which run is asked for, then the noise and every run
        await page.evaluate("document.getElementById('detail').close()")
        confirmed = len(script.events)
        script.confirmed("bigger batch", [0.965, 0.967], start=300, kept=[0.97], sigma=0.003)
        asked = next(i for i in range(confirmed, len(script.events)) if script.events[i].type == "confirmation.requested")
        for event in script.events[confirmed:asked + 1]:
            await bus.publish(event)
        await page.wait_for("!document.getElementById('confirming').hidden")
        assert await page.evaluate("document.getElementById('confirming').textContent.replace(/\\s+/g, ' ').trim()") == (
            "confirming nov27-0005 bigger batch (run 2) · too close to call")
        assert await page.evaluate("document.getElementById('s-state').textContent") == "confirming"
        for event in script.events[asked + 1:]:
            await bus.publish(event)
        await page.wait_for("document.getElementById('s-sigma').textContent === '0.003000'")
        await page.wait_for("document.getElementById('confirming').hidden")
        assert await page.evaluate("document.querySelector('tr[data-experiment=\"nov27-0005\"] td.runs').textContent") == "3"
        assert await page.evaluate("document.getElementById('s-confirmations').textContent") == "2"
        await page.evaluate("document.querySelector('tr[data-experiment=\"nov27-0005\"]').click()")
        runs = await page.wait_for("document.querySelectorAll('#detail .runs-table tbody tr').length === 3 && "
                                   "[...document.querySelectorAll('#detail .runs-table tbody tr')].map(r => r.children[2].textContent)")
        assert runs == ["first", "run 2", "kept state run 2"]
        await page.screenshot(tmp_path / "dashboard-runs.png")
        assert page.page_errors == []

    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10_000


API_REQUESTS = "performance.getEntriesByType('resource').filter(e => e.name.includes('/api/campaigns/')).length"


async def test_each_event_costs_the_page_one_request(bus: Bus, ledger: RunningLedger, tmp_path: Path) -> None:
    script = CampaignScript("nov27").start(0).baseline(1.0, 10, 70)
    for event in script.events:
        await bus.publish(event)
    shown = len(script.events)
    script.experiment("raise the learning rate", 0.99, 75, 135)
    fresh = script.events[shown:]

    async with chromium(tmp_path / "profile") as page:
        await page.call("Page.navigate", url=f"{ledger.url}/")
        await page.wait_for("document.body?.dataset.loaded === '1' && document.body.dataset.live === '1'")
        await page.wait_for(f"({ROWS}).length === 1")
        before = await page.evaluate(API_REQUESTS)
        # one event at a time, each waiting for the page's answer to it, so that no two share a refresh
        for event in fresh:
            asked = await page.evaluate(API_REQUESTS)
            await bus.publish(event)
            await page.wait_for(f"{API_REQUESTS} > {asked}")
        await page.wait_for(f"({ROWS}).includes('nov27-0001 keep')")
        await asyncio.sleep(0.5)  # room for any further request the last event would cause

        assert await page.evaluate(API_REQUESTS) - before == len(fresh) == 5
        assert page.page_errors == []
