"""Descriptions come from a model: the chart, results.tsv and the console show them as text, whatever they hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.ledger.api import create_app
from services.ledger.store import EventStore
from shared.text import printable
from tests.ledger_support import CampaignScript

TEX = r"$\frac{1}{$ scale the loss"
MARKUP = "[/] close [bold what was never opened"
CSI = "lr \u202e2J\u202d31mup"  # reordering marks: printable characters to the event contract, not to a terminal


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    script = CampaignScript().start(0).baseline(1.0, 10, 70)
    for number, description in enumerate((TEX, MARKUP, CSI, "$x$ and $y$")):
        script.experiment(description, 0.99 - number / 100, 80 + 70 * number, 140 + 70 * number)
    store = EventStore(tmp_path / "events.sqlite3")
    for event in script.events:
        store.add(event)
    transport = httpx.ASGITransport(app=create_app(store))
    async with httpx.AsyncClient(transport=transport, base_url="http://ledger") as http:
        yield http
    store.close()


async def test_progress_png_draws_labels_that_are_not_valid_tex(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/campaigns/nov27/progress.png")

    assert response.status_code == 200 and response.content[:8] == b"\x89PNG\r\n\x1a\n"


async def test_results_tsv_download_holds_no_control_character(client: httpx.AsyncClient) -> None:
    text = (await client.get("/api/campaigns/nov27/results.tsv")).text

    assert "lr 2J31mup" in text and "\u202e" not in text and "\u202d" not in text
    assert all(char in "\t\n" or not (ord(char) < 0x20 or 0x7f <= ord(char) <= 0x9f) for char in text)


async def test_the_api_hands_the_description_over_as_recorded(client: httpx.AsyncClient) -> None:
    detail = (await client.get("/api/campaigns/nov27/experiments/nov27-0003")).json()

    assert detail["description"] == CSI  # the dashboard writes text, never markup; the record stays exact


@pytest.mark.parametrize(("text", "shown"), [
    ("a\x1b[31mred\x1b[0m", "ared"),
    ("title\x1b]0;owned\x07 here", "title here"),
    ("bell\x07 nul\x00 del\x7f nel\x85 csi\x9b2J", "bell nul del nel csi"),
    ("tab\there\nline\r\n", "tab here line  "),
    ("right\u202eleft", "rightleft"),
    ("σ̂ 0.002 · 漢字 $x$ [b]", "σ̂ 0.002 · 漢字 $x$ [b]"),
])
def test_printable_removes_sequences_and_controls_and_keeps_the_rest(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_printable_keeps_newlines_when_asked() -> None:
    assert printable("step 1\r\nstep 2\x1b[K\n\x1b[1mdone", keep_newlines=True) == "step 1\nstep 2\ndone"
