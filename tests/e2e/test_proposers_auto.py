"""`up --proposers auto`: with a model slower than a run, `up` starts a second proposer and says why."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nats
import pytest

from tests.conftest import make_workspace

THINK_S = 1.5  # each answer; a run of the toy train.py takes a fraction of that
TRAIN_PY = '''from prepare import evaluate_bpb
LEARNING_RATE = 0.01
print("---")
print(f"val_bpb: {evaluate_bpb(LEARNING_RATE):.6f}")
print("peak_vram_mb: 100.0")
'''


class SlowModel:
    """A Chat Completions stand-in that rescales LEARNING_RATE a little, after THINK_S seconds, every call anew."""

    def __init__(self) -> None:
        self.calls, lock = 0, threading.Lock()
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
                current = re.findall(r"^LEARNING_RATE = ([0-9.e-]+)$", prompt[prompt.index("## train.py at"):], re.MULTILINE)[0]
                with lock:
                    model.calls += 1
                    n = model.calls
                new = f"{float(current) * (1 + 0.01 * n * (1 if n % 2 else -1)):.6g}"
                answer = {"description": f"scale LEARNING_RATE to {new} (call {n})", "rationale": "probe",
                          "expected_vram_impact": "none",
                          "edits": [{"search": f"LEARNING_RATE = {current}", "replace": f"LEARNING_RATE = {new}"}]}
                time.sleep(THINK_S)
                data = json.dumps({"model": "slow", "choices": [{"message": {"content": json.dumps(answer)}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"


@pytest.fixture
def slow_model() -> Iterator[SlowModel]:
    model = SlowModel()
    threading.Thread(target=model.httpd.serve_forever, daemon=True).start()
    yield model
    model.httpd.shutdown()


async def test_up_starts_a_second_proposer_when_proposals_take_longer_than_runs(
    tmp_path: Path, nats_server: str, slow_model: SlowModel,
) -> None:
    workspace = make_workspace(tmp_path / "workspace", TRAIN_PY)
    proposers: list[str] = []
    nc = await nats.connect(nats_server)

    async def keep(msg) -> None:
        proposers.append(json.loads(msg.data).get("proposer"))

    await nc.subscribe("proposal.created", cb=keep)
    env = {**os.environ, "NATS_URL": nats_server, "AUTORESEARCH_LLM_BASE_URL": slow_model.url,
           "AUTORESEARCH_LLM_MODEL": "slow"}
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "auto",
               "--max-experiments", "5", "--lookahead", "1", "--proposers", "auto", "--http-port", "0",
               "--keep-rule", "greedy", "--baseline-runs", "1", "--skip-checks",
               "--train-command", f"{sys.executable} train.py"]
    done = await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=180)
    await nc.flush()
    await nc.close()
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert re.search(r"proposers are the bottleneck \(a proposal takes [0-9.]+ s, a run [0-9.]+ s, with 1\); "
                     r"starting proposer-2 of at most 2", output), output
    assert "proposer-2" in proposers  # the second one answered tickets
    assert (workspace / ".autoresearch" / "logs" / "proposer-2.log").exists()  # under supervision, with its own log
    assert "starting proposer-3" not in output  # never more than 1 + lookahead
