"""`autoresearch status / results / plot` against a real ledger API, and `watch` on a real nats-server."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from rich.console import Console
from typer.testing import CliRunner

from autoresearch.cli import app
from autoresearch.tail import EventTail, TailError
from autoresearch.views import EventLines
from services.ledger.api import create_app
from services.ledger.store import EventStore
from shared.bus import Bus
from shared.embedded import free_port
from tests.ledger_support import CampaignScript, hand_computed_campaign


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real HTTP ledger API on a free port, over a store holding two campaigns."""
    store = EventStore(tmp_path_factory.mktemp("ledger") / "events.sqlite3")
    for event in hand_computed_campaign("older").events + noisy_campaign().events:
        store.add(event)
    script = CampaignScript("nov27").start(0).baseline(1.0, 10, 70)
    script.experiment("raise the learning rate", 0.99, 75, 135)
    script.running("wider MLP", start=140, step=300, percent=62.5, loss=2.75, progress_at=170)
    for event in script.events:
        store.add(event)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    store.close()


def noisy_campaign() -> CampaignScript:
    """A baseline run three times, a change confirmed against the kept state, and a second change waiting on its run 2."""
    script = CampaignScript("noisy").start(0)
    script.repeated_baseline([1.0, 1.004, 0.996], start=10, sigma=0.004)
    script.confirmed("[/] close [bold", [0.99, 0.992], start=100, kept=[1.0], sigma=0.0035)
    script.confirmed("wider MLP", [0.985, 0.986], start=200)
    asked = max(i for i, event in enumerate(script.events) if event.type == "confirmation.requested")
    del script.events[asked + 1:]
    return script


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), terminal_width=200)
    return result.exit_code, result.output


def test_status_shows_the_latest_campaigns_run_best_and_last_verdicts(ledger_url: str) -> None:
    code, out = run("status", "--ledger-url", ledger_url)

    assert code == 0, out
    assert "campaign nov27" in out and "training" in out
    assert "running  nov27-0002" in out and "62.5% step 300 loss 2.7500" in out
    assert "best     0.990000 (1.00% below baseline 1.000000)" in out and "raise the learning rate" in out
    assert "last 2 verdicts" in out
    assert "trend    improving" in out and "proposer 2,400 tokens in, 600 out" in out


def test_results_prints_every_decided_experiment_or_the_summary_json(ledger_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTORESEARCH_LEDGER_URL", ledger_url)

    code, table = run("results", "--campaign", "older")
    json_code, text = run("results", "--campaign", "older", "--json")

    assert code == 0 and json_code == 0, table + text
    for description in ("baseline", "raise the learning rate", "use GeLU", "double the width", "longer warmup"):
        assert description in table
    assert "broken edit" not in table  # rejected proposals are not results
    summary = json.loads(text)
    assert summary["campaign"] == "older" and summary["best_val_bpb"] == 0.98 and summary["experiments_total"] == 5


def test_plot_writes_a_png_of_the_requested_size(ledger_url: str, tmp_path: Path) -> None:
    target = tmp_path / "chart.png"

    code, out = run("plot", "-o", str(target), "--ledger-url", ledger_url, "--width", "800", "--height", "400")

    assert code == 0, out
    assert struct.unpack(">II", target.read_bytes()[16:24]) == (800, 400)


def test_commands_explain_an_unknown_campaign_and_an_unreachable_ledger(ledger_url: str) -> None:
    code, out = run("status", "--ledger-url", ledger_url, "--campaign", "nope")
    down_code, down = run("results", "--ledger-url", f"http://127.0.0.1:{free_port()}")

    assert code == 1 and "no campaign named 'nope'" in out
    assert down_code == 1 and "cannot reach the ledger" in down and "AUTORESEARCH_LEDGER_URL" in down


async def test_watch_prints_one_line_per_event_of_its_campaign(bus: Bus, nats_server: str) -> None:
    out = io.StringIO()
    lines = EventLines(Console(file=out, width=200), progress="all", timestamps=True)
    tail = EventTail(nats_server, "nov27", lines.show, lines.notice)
    await tail.start()
    script = CampaignScript("nov27").start(0).baseline(1.0, 10, 70)
    script.experiment("raise the learning rate", 0.99, 75, 135)
    for event in CampaignScript("other").start(0).events + script.events:
        await bus.publish(event)
    for _ in range(100):
        if "keep nov27-0001" in out.getvalue():
            break
        await asyncio.sleep(0.05)
    await tail.close()

    printed = out.getvalue().splitlines()
    assert len(printed) == len(script.events)
    assert all(line[:9].count(":") == 2 for line in printed)  # each line starts with its HH:MM:SS
    assert any("proposed nov27-0001 raise the learning rate" in line for line in printed)
    assert any("keep nov27-0001" in line and "best=0.990000" in line for line in printed)
    assert not any("campaign other" in line for line in printed)


async def test_the_tail_reports_a_nats_server_that_is_not_there() -> None:
    tail = EventTail(f"nats://127.0.0.1:{free_port()}", None, lambda event: None)
    with pytest.raises(TailError, match="cannot reach NATS at nats://127.0.0.1:"):
        await tail.start(wait=1.0)


def test_watch_command_names_the_url_and_how_to_change_it() -> None:
    url = f"nats://127.0.0.1:{free_port()}"

    code, out = run("watch", "--nats-url", url)

    assert code == 1
    assert f"cannot reach NATS at {url}" in out and "NATS_URL" in out
    assert "Traceback" not in out


def test_status_shows_a_confirmation_waiting_sigma_and_markup_like_descriptions_as_text(ledger_url: str) -> None:
    code, out = run("status", "--ledger-url", ledger_url, "--campaign", "noisy")

    assert code == 0, out
    assert "noisy · confirming ·" in out and "confirming noisy-0002 wider MLP (run 2): too close to call" in out
    assert "σ̂ 0.003500 · keep rule sprt · 4 confirmation runs of 7" in out
    rows = [line.split() for line in out.splitlines() if line.startswith("#")]
    assert rows[1][0] == "#1" and rows[1][-3:] == ["[/]", "close", "[bold"]
    assert rows[1][4] == "3"  # the runs column: two runs of the change, one of the tip
