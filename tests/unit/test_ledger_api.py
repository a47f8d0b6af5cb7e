"""The ledger's read API over a real EventStore holding a campaign made by the test."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI
from matplotlib import image as mpimg

from services.ledger.api import create_app
from services.ledger.store import EventStore
from tests.ledger_support import ENVIRONMENT, hand_computed_campaign

Client = httpx.AsyncClient


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """One store for the module: these tests only read."""
    store = EventStore(tmp_path_factory.mktemp("ledger") / "events.sqlite3")
    for event in hand_computed_campaign("nov27").events + hand_computed_campaign("older").events:
        store.add(event)
    yield create_app(store)
    store.close()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ledger") as http:
        yield http


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


async def test_campaigns_are_listed_in_order_of_first_appearance(client: Client) -> None:
    assert (await client.get("/api/campaigns")).json() == ["nov27", "older"]
    assert (await client.get("/healthz")).json() == {"status": "ok"}


async def test_summary_endpoint_gives_the_campaign_figures(client: Client) -> None:
    summary = (await client.get("/api/campaigns/nov27/summary")).json()

    assert summary["baseline_val_bpb"] == 1.0 and summary["best_val_bpb"] == 0.98
    assert summary["improvement_percent"] == pytest.approx(2.0)
    assert summary["counts"] == {"keep": 3, "discard": 1, "crash": 1, "rejected": 1}
    assert summary["idle_share"] == pytest.approx(52 / 312)


async def test_experiments_paginate_in_order(client: Client) -> None:
    first = (await client.get("/api/campaigns/nov27/experiments", params={"limit": 2})).json()
    second = (await client.get("/api/campaigns/nov27/experiments", params={"limit": 2, "offset": 2})).json()
    last = (await client.get("/api/campaigns/nov27/experiments", params={"limit": 2, "offset": 4})).json()

    assert first["total"] == second["total"] == 6
    ids = [row["experiment_id"] for page in (first, second, last) for row in page["items"]]
    assert ids == [f"nov27-{n:04d}" for n in range(6)]
    assert first["items"][0]["description"] == "baseline" and first["items"][0]["number"] == 0
    newest = (await client.get("/api/campaigns/nov27/experiments", params={"limit": 1, "order": "desc"})).json()
    assert newest["items"][0]["experiment_id"] == "nov27-0005"


async def test_experiments_filter_by_status(client: Client) -> None:
    kept = (await client.get("/api/campaigns/nov27/experiments", params={"status": "keep"})).json()
    failed = (await client.get("/api/campaigns/nov27/experiments", params=[("status", "crash"), ("status", "rejected")])).json()

    assert [row["description"] for row in kept["items"]] == ["baseline", "raise the learning rate", "longer warmup"]
    assert kept["total"] == 3
    assert sorted(row["status"] for row in failed["items"]) == ["crash", "rejected"]


@pytest.mark.parametrize(("params", "field"), [
    ({"offset": -1}, "offset"), ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"status": "kept"}, "status"),
    ({"order": "sideways"}, "order"),
])
async def test_bad_experiment_parameters_are_422_naming_the_parameter(client: Client, params: dict, field: str) -> None:
    response = await client.get("/api/campaigns/nov27/experiments", params=params)

    assert response.status_code == 422
    assert field in response.json()["detail"][0]["loc"] and response.json()["detail"][0]["msg"]


async def test_event_stream_refuses_a_name_that_cannot_be_a_campaign(client: Client) -> None:
    response = await client.get("/api/events/stream", params={"campaign": "no spaces allowed"})

    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", "campaign"]


@pytest.mark.parametrize("path", [
    "/api/campaigns/nope/summary", "/api/campaigns/nope/experiments", "/api/campaigns/nope/results.tsv",
    "/api/campaigns/nope/progress.png", "/api/campaigns/nov27/experiments/nov27-9999",
])
async def test_unknown_campaign_or_experiment_is_404(client: Client, path: str) -> None:
    response = await client.get(path)

    assert response.status_code == 404
    assert "nope" in response.json()["detail"] or "nov27-9999" in response.json()["detail"]


async def test_discarded_experiment_keeps_its_diff_run_and_environment(client: Client) -> None:
    detail = (await client.get("/api/campaigns/nov27/experiments/nov27-0002")).json()

    assert detail["status"] == "discard" and detail["description"] == "use GeLU"
    assert "+LEARNING_RATE = 0.02  # use GeLU" in detail["commit_made"]["diff"] == detail["diff"]
    assert detail["commit_made"]["kept_at_ref"] == f"refs/autoresearch/nov27/discarded/{detail['commit'][:7]}"
    assert detail["proposal"]["rationale"] == "because use GeLU"
    assert (detail["proposal"]["model"], detail["proposal"]["input_tokens"], detail["proposal"]["output_tokens"]) == ("test-model", 1200, 300)
    assert detail["run"]["metrics"]["val_bpb"] == 0.995 and detail["run"]["duration_seconds"] == 60
    assert detail["run"]["environment"] == ENVIRONMENT
    assert detail["verdict"]["best_before"] == 0.99 and detail["verdict"]["status"] == "discard"


async def test_crashed_experiment_shows_its_log_tail_and_rejected_one_its_reason(client: Client) -> None:
    crashed = (await client.get("/api/campaigns/nov27/experiments/nov27-0003")).json()
    rejected = (await client.get("/api/campaigns/nov27/experiments/nov27-0004")).json()

    assert crashed["status"] == "crash" and "out of memory" in crashed["run"]["log_tail"]
    assert crashed["run"]["exit_code"] == 1 and crashed["val_bpb"] is None
    assert rejected["status"] == "rejected" and rejected["rejection"] == "search text not found"
    assert rejected["run"] is None and rejected["number"] is None


async def test_results_tsv_downloads_karpathys_five_columns(client: Client) -> None:
    response = await client.get("/api/campaigns/nov27/results.tsv")
    lines = response.text.splitlines()

    assert response.status_code == 200 and "attachment" in response.headers["content-disposition"]
    assert lines[0] == "commit\tval_bpb\tmemory_gb\tstatus\tdescription"
    assert [line.split("\t")[3] for line in lines[1:]] == ["keep", "keep", "discard", "crash", "keep"]
    assert lines[4].split("\t")[1:3] == ["0.000000", "0.0"]


async def test_progress_png_decodes_at_the_requested_size(client: Client) -> None:
    default = await client.get("/api/campaigns/nov27/progress.png")
    small = await client.get("/api/campaigns/nov27/progress.png", params={"width": 640, "height": 360})

    assert default.headers["content-type"] == "image/png" and png_size(default.content) == (1200, 600)
    assert png_size(small.content) == (640, 360)
    assert mpimg.imread(io.BytesIO(small.content), format="png").shape[:2] == (360, 640)
    assert (await client.get("/api/campaigns/nov27/progress.png", params={"width": 10})).status_code == 422


async def test_metrics_are_prometheus_text(client: Client) -> None:
    response = await client.get("/metrics")
    lines = response.text.splitlines()

    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'autoresearch_experiments{campaign="nov27",status="keep"} 3' in lines
    assert 'autoresearch_best_val_bpb{campaign="nov27"} 0.98' in lines
    assert 'autoresearch_run_duration_seconds_bucket{campaign="nov27",le="30"} 1' in lines
    assert 'autoresearch_run_duration_seconds_count{campaign="nov27"} 5' in lines
    assert 'autoresearch_trainer_idle_seconds{campaign="nov27"} 52' in lines
    assert "# TYPE autoresearch_run_duration_seconds histogram" in lines
    samples = [line for line in lines if not line.startswith("#")]
    assert all(len(line.rsplit(" ", 1)) == 2 for line in samples)


async def test_dashboard_page_and_its_assets_are_served(client: Client) -> None:
    page = await client.get("/")

    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for asset in ("/static/dashboard.js", "/static/chart.js", "/static/dashboard.css"):
        assert asset in page.text
        assert (await client.get(asset)).status_code == 200
