"""`autoresearch service-health`: a service counts as up while its heartbeat is recent, and beats only while connected."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autoresearch.cli import app
from autoresearch.commands.health import heartbeat_problem, url_problem
from shared.embedded import free_port
from shared.runtime import heartbeat_path, keep_heartbeat


def beat(state: Path, name: str, instance: str, age: float) -> Path:
    path = heartbeat_path(state, name, instance)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def test_a_service_without_a_heartbeat_is_down(tmp_path: Path) -> None:
    beat(tmp_path, "editor", "host-1", 0)

    assert "no heartbeat from the trainer service" in heartbeat_problem(tmp_path, "trainer", 30)


def test_a_service_is_up_while_one_of_its_instances_beat_recently(tmp_path: Path) -> None:
    beat(tmp_path, "proposer", "old-container", 3600)
    assert "last heartbeat was 3600 s ago" in heartbeat_problem(tmp_path, "proposer", 30)
    beat(tmp_path, "proposer", "new-container", 2)

    assert heartbeat_problem(tmp_path, "proposer", 30) is None


def test_an_instance_name_cannot_lead_the_heartbeat_out_of_its_folder(tmp_path: Path) -> None:
    path = heartbeat_path(tmp_path, "editor", "../../etc/x")

    assert path.parent == tmp_path / "health" and "/" not in path.name


def test_the_command_exits_zero_only_when_healthy_and_says_why_not(tmp_path: Path) -> None:
    runner = CliRunner()
    beat(tmp_path, "ledger", "a", 120)
    stale = runner.invoke(app, ["service-health", "ledger", "--state-dir", str(tmp_path)])
    beat(tmp_path, "ledger", "b", 0)
    fresh = runner.invoke(app, ["service-health", "ledger", "--state-dir", str(tmp_path)])
    unknown = runner.invoke(app, ["service-health", "database", "--state-dir", str(tmp_path)])

    assert (stale.exit_code, fresh.exit_code, unknown.exit_code) == (1, 0, 2)
    assert "120 s ago" in stale.output and "unknown service" in unknown.output


class Answers(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        self.send_response(200 if self.path == "/healthz" else 503)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()


def test_a_url_counts_only_when_it_answers_200(server: str) -> None:
    assert url_problem(f"{server}/healthz") is None
    assert "answered 503" in url_problem(f"{server}/elsewhere")
    assert "did not answer" in url_problem(f"http://127.0.0.1:{free_port()}/healthz")


async def test_no_heartbeat_while_the_bus_is_disconnected_and_one_as_soon_as_it_is(tmp_path: Path) -> None:
    path = heartbeat_path(tmp_path / "state", "editor", "x")
    answers, asked = iter([False, False, False, True]), []
    done = asyncio.Event()

    def connected() -> bool:
        asked.append(path.exists())
        value = next(answers, None)
        if value is None:
            done.set()
            return False
        return value

    task = asyncio.create_task(keep_heartbeat(path, connected, every=0))
    await done.wait()
    task.cancel()

    assert asked == [False, False, False, False, True]  # absent through three disconnected beats, there after one
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700  # made here first, as private as the trainer keeps it


async def test_a_heartbeat_that_cannot_be_written_never_stops_the_service(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file where the folder should be")
    beats = []

    def connected() -> bool:
        beats.append(1)
        return True

    task = asyncio.create_task(keep_heartbeat(heartbeat_path(tmp_path / "state", "editor", "x"), connected, every=0))
    while len(beats) < 3 and not task.done():
        await asyncio.sleep(0)
    assert not task.done()
    task.cancel()
