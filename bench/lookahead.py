"""Benchmark: how long the trainer sits idle while a slow proposer thinks, with and without lookahead.

A stand-in Chat Completions server answers each proposal after --think seconds;
each training run takes --train seconds. The campaign runs once per lookahead
value and prints the trainer's idle share (time between one run's end and the
next run's start, over the span from the first run's start to the last run's end).

    .venv/bin/python bench/lookahead.py [--experiments 6] [--think 3] [--train 4] [--lookaheads 0 1 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from recording import make_workspace, record_campaign

def start_thinking_model(think: float) -> tuple[ThreadingHTTPServer, str]:
    """A Chat Completions endpoint that proposes a new learning rate after `think` seconds."""
    calls = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            prompt = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
            current = re.findall(r"^LEARNING_RATE = ([0-9.e-]+)$", prompt, re.MULTILINE)[0]
            calls["n"] += 1
            factor = 1 + 0.01 * calls["n"] * (1 if calls["n"] % 2 else -1)
            new = f"{float(current) * factor:.6g}"
            answer = {"description": f"scale LEARNING_RATE to {new}", "rationale": "probe", "expected_vram_impact": "none",
                      "edits": [{"search": f"LEARNING_RATE = {current}", "replace": f"LEARNING_RATE = {new}"}]}
            time.sleep(think)
            data = json.dumps({"model": "thinker", "choices": [{"message": {"content": json.dumps(answer)}}],
                               "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


async def campaign(root: Path, lookahead: int, args: argparse.Namespace, model_url: str) -> list[dict]:
    """Run one campaign and return its run.finished events."""
    workspace = root / f"workspace-{lookahead}"
    make_workspace(workspace, args.train)
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", f"la{lookahead}",
               "--max-experiments", str(args.experiments), "--lookahead", str(lookahead), "--http-port", "0",
               "--proposer", "llm", "--train-command", f"{sys.executable} train.py"]
    env = {"AUTORESEARCH_LLM_BASE_URL": model_url, "AUTORESEARCH_LLM_MODEL": "thinker"}
    _, runs = await record_campaign(command, root / f"nats-{lookahead}", env)
    return runs


def idle_share(runs: list[dict]) -> tuple[float, float]:
    """(idle seconds, idle share) between the first run's start and the last run's end."""
    spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in runs)
    busy = sum((end - start).total_seconds() for start, end in spans)
    total = (spans[-1][1] - spans[0][0]).total_seconds()
    return total - busy, (total - busy) / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=6)
    parser.add_argument("--think", type=float, default=3.0, help="seconds the model takes per proposal")
    parser.add_argument("--train", type=float, default=4.0, help="seconds each training run takes")
    parser.add_argument("--lookaheads", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    model, model_url = start_thinking_model(args.think)
    print(f"{args.experiments} experiments, model thinks {args.think}s, training takes {args.train}s")
    with tempfile.TemporaryDirectory(prefix="autoresearch-lookahead-") as tmp:
        for lookahead in args.lookaheads:
            started = time.monotonic()
            runs = asyncio.run(campaign(Path(tmp), lookahead, args, model_url))
            idle, share = idle_share(runs)
            print(f"lookahead {lookahead}: wall {time.monotonic() - started:6.1f}s · trainer idle {idle:6.1f}s "
                  f"({100 * share:4.1f}% of the campaign)")
    model.shutdown()


if __name__ == "__main__":
    main()
