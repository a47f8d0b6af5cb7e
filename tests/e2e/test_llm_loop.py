"""`autoresearch up --proposer llm` against a local Chat Completions server that answers like a researcher."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nats
import pytest

from tests.conftest import make_workspace

KEY = "sk-e2e-SECRET-never-in-events-or-logs"
TRAIN_PY = '''import os
from prepare import evaluate_bpb
LEARNING_RATE = 0.01
val_bpb = evaluate_bpb(LEARNING_RATE)  # computed by prepare.py, so the baseline counts and is kept
leaked = any("SECRET" in value for value in os.environ.values())
print("---")
print(f"val_bpb: {val_bpb:.6f}")
print("peak_vram_mb: 100.0")
print(f"secret_visible: {int(leaked)}")
'''


class ResearcherStub:
    """Answers chat completions: first a 429, then a malformed answer, then real proposals in prose."""

    def __init__(self) -> None:
        self.calls = 0
        self.keys: list[str] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                stub.keys.append(self.headers.get("authorization", ""))
                status, payload, extra = stub.answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"content-type": "application/json", "content-length": str(len(data)), **extra}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self, body: dict) -> tuple[int, dict, dict]:
        self.calls += 1
        if self.calls == 1:
            return 429, {"error": "slow down"}, {"retry-after": "1"}
        if self.calls == 2:
            return 200, self.completion("I think we should tune things. {not json"), {}
        prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
        current = re.findall(r"^LEARNING_RATE = ([0-9.e-]+)$", prompt, re.MULTILINE)[0]
        factor = [1.3, 0.8, 1.15, 0.9, 1.5, 0.7][self.calls % 6]
        new = f"{float(current) * factor:.5g}"
        proposal = {
            "description": f"scale LEARNING_RATE by {factor} to {new} (call {self.calls})",
            "rationale": "the loss curve suggests the step size is off",
            "expected_vram_impact": "none",
            "edits": [{"search": f"LEARNING_RATE = {current}", "replace": f"LEARNING_RATE = {new}"}],
        }
        return 200, self.completion(f"Here is my next experiment:\n```json\n{json.dumps(proposal)}\n```\nGood luck."), {}

    @staticmethod
    def completion(text: str) -> dict:
        return {"model": "stub-researcher", "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}


def as_event(data: bytes) -> dict | None:
    """The event in a message, or None for anything else (object-store chunks, API traffic)."""
    try:
        event = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        return None
    return event if isinstance(event, dict) and "type" in event and "event_id" in event else None


@pytest.fixture
def researcher() -> Iterator[ResearcherStub]:
    stub = ResearcherStub()
    thread = threading.Thread(target=stub.httpd.serve_forever, daemon=True)
    thread.start()
    yield stub
    stub.httpd.shutdown()


async def test_llm_proposer_drives_the_loop_and_keeps_its_key_to_itself(
    tmp_path: Path, nats_server: str, researcher: ResearcherStub,
) -> None:
    workspace = make_workspace(tmp_path / "workspace", TRAIN_PY)
    seen: list[bytes] = []
    nc = await nats.connect(nats_server)

    async def keep(msg) -> None:
        seen.append(msg.data)

    await nc.subscribe(">", cb=keep)
    env = {**os.environ, "NATS_URL": nats_server, "OPENAI_API_KEY": KEY, "AUTORESEARCH_LLM_BASE_URL": researcher.url,
           "AUTORESEARCH_LLM_MODEL": "stub-researcher", "AUTORESEARCH_LLM_BACKOFF_S": "0.1"}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "llm",
               "--max-experiments", "3", "--http-port", "0", "--train-command", f"{sys.executable} train.py"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=240)
    await nc.flush()
    await nc.close()
    assert done.returncode == 0, done.stdout + done.stderr

    rows = (workspace / "results.tsv").read_text().splitlines()[1:]
    assert len(rows) == 4 and all("call" in row for row in rows[1:])
    events = [event for event in map(as_event, seen) if event]
    proposals = [e for e in events if e["type"] == "proposal.created"]
    assert proposals and all(p["model"] == "stub-researcher" and p["input_tokens"] >= 1000 for p in proposals)
    assert all(p["proposer_kind"] == "llm" for p in proposals)
    runs = [e for e in events if e["type"] == "run.finished"]
    assert runs and all(run["metrics"]["secret_visible"] == 0.0 for run in runs)
    assert researcher.keys and all(key == f"Bearer {KEY}" for key in researcher.keys)
    assert all(KEY.encode() not in data for data in seen)
    logs = workspace / ".autoresearch" / "logs"
    assert all(KEY not in path.read_text(errors="replace") for path in logs.iterdir())
    assert KEY not in done.stdout + done.stderr
