"""The ledger's views kept up to date event by event: what a request reads, and that it answers as a fresh fold would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

import services.ledger.store as store_module
from services.ledger.api import create_app
from services.ledger.experiments import CampaignView
from services.ledger.pages import page_rows
from services.ledger.store import EventStore
from shared.events import Event, RunProgress, RunStarted
from tests.ledger_support import CampaignScript, at, hand_computed_campaign

ENDPOINTS = [
    "/api/campaigns", "/api/campaigns/nov27/summary", "/api/campaigns/nov27/experiments",
    "/api/campaigns/nov27/experiments?order=desc&limit=3", "/api/campaigns/nov27/experiments?offset=2&limit=2",
    "/api/campaigns/nov27/experiments?status=keep&status=crash&order=desc", "/api/campaigns/nov27/progress",
    "/api/campaigns/nov27/results.tsv", "/api/campaigns/nov27/dashboard?limit=4", "/metrics",
]


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many stored events the store has parsed back since the test began (a count in a one-item list)."""
    count = [0]
    parse: Callable[[str], Event | None] = store_module._parse_stored

    def counting(payload: str) -> Event | None:
        count[0] += 1
        return parse(payload)

    monkeypatch.setattr(store_module, "_parse_stored", counting)
    return count


def long_campaign(experiments: int) -> CampaignScript:
    script = hand_computed_campaign("nov27")
    script.events = [event for event in script.events if event.type != "campaign.finished"]
    for number in range(experiments):
        start = 400 + 20 * number
        script.experiment(f"idea {number}", 0.99 + number / 1000 if number % 3 else None, start, start + 10)
    return script


async def answers(app, paths: list[str]) -> dict[str, object]:
    """Each path's status and body; the running run's elapsed time, which moves with the clock, is left out."""
    out: dict[str, object] = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ledger") as http:
        for path in paths:
            response = await http.get(path)
            body = response.json() if "json" in response.headers["content-type"] else response.text
            summary = body.get("summary", body) if isinstance(body, dict) else None
            if isinstance(summary, dict) and summary.get("running"):
                summary["running"].pop("elapsed_seconds")
            out[path] = (response.status_code, body)
    return out


async def test_a_request_reads_only_what_was_stored_since_the_one_before(tmp_path: Path, parsed: list[int]) -> None:
    store = EventStore(tmp_path / "events.sqlite3")
    script = long_campaign(40)
    for event in script.events[:20]:
        store.add(event)
    app = create_app(store)
    await answers(app, ENDPOINTS)
    for event in script.events[20:]:
        store.add(event)
    await answers(app, ENDPOINTS[:1])  # the forty experiments stored since are folded in here, once
    parsed[0] = 0

    served = await answers(app, ENDPOINTS + ["/api/campaigns/nov27/experiments/nov27-0040"])

    assert served["/api/campaigns/nov27/experiments"][1]["total"] == 46  # type: ignore[index]
    assert parsed[0] == 0  # eleven requests over 46 experiments, and not one stored event read back


async def test_views_followed_event_by_event_answer_as_a_fresh_fold_of_the_store(tmp_path: Path) -> None:
    script = long_campaign(2)
    experiment = script.confirmed("warmup 5%", [0.985, 0.987], start=500, kept=[0.99], sigma=0.002)
    started = next(e for e in script.events if isinstance(e, RunStarted) and e.experiment_id == experiment)
    script.events.insert(script.events.index(started) + 1, RunProgress(
        campaign="nov27", experiment_id=experiment, producer="test/script", occurred_at=at(505), commit=started.commit,
        step=3, percent=30.0, loss=2.9,
    ))
    script.running("wider MLP", start=600, step=7, percent=70.0, loss=2.4, progress_at=610)
    restarted = script.events[-2].model_copy(update={"event_id": "restarted", "occurred_at": at(611)})
    script.events.append(restarted)  # the trainer restarted the run it lost
    script.running("deeper MLP", start=615, step=2, percent=20.0, loss=2.8, progress_at=620)  # a second trainer's run
    script.finish(700)
    store = EventStore(tmp_path / "events.sqlite3")
    followed = create_app(store)
    experiments = sorted({event.experiment_id for event in script.events})
    paths = ENDPOINTS + [f"/api/campaigns/nov27/experiments/{name}" for name in experiments]

    for count, event in enumerate(script.events, start=1):
        store.add(event)
        if count % 3 and count < len(script.events) - 6:  # every third event, then every one near the end
            continue
        assert await answers(followed, paths) == await answers(create_app(store), paths), f"after {count} events"


def test_a_page_is_the_slice_the_whole_ordered_list_would_give(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.sqlite3")
    for event in hand_computed_campaign("nov27").events:
        store.add(event)
    view = CampaignView.load(store, "nov27")
    ids = [row.experiment_id for row in view.experiments]

    for statuses in (None, ["keep", "crash"]):
        chosen = [row.experiment_id for row in view.experiments if not statuses or row.status in statuses]
        for newest_first, ordered in ((False, chosen), (True, chosen[::-1])):
            for offset in range(len(ids) + 2):
                for limit in range(1, len(ids) + 2):
                    total, rows = page_rows(view, offset, limit, statuses, newest_first)
                    assert (total, [row.experiment_id for row in rows]) == (len(chosen), ordered[offset:offset + limit])
