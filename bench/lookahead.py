"""Benchmark: how long the trainer sits idle while a slow proposer thinks, and how many prepared proposals collide.

A stand-in Chat Completions server answers each proposal after --think seconds (or the built-in search proposes,
with --proposer search); each training run takes --train seconds. The campaign runs once per lookahead value and
prints the trainer's idle share (time between one run's end and the next run's start, over the span from the
first run's start to the last run's end), and how many prepared proposals were thrown away because a keep moved
the branch under them and their edits no longer applied ("no longer applies on ..." rejections).

    .venv/bin/python bench/lookahead.py [--experiments 6] [--think 3] [--train 4] [--lookaheads 0 1 2]
                                        [--proposer llm|search] [--proposers 1|auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import nats

from chat_standin import ChatStandIn
from recording import commit_workspace
from shared.embedded import EmbeddedNats
from shared.events import ProposalRejected, RunFinished, VerdictDecided

# Four constants, each with its own best value: a keep of one leaves the others worth trying.
TRAIN_PY = """import math
import time
LEARNING_RATE = 0.01
WEIGHT_DECAY = 0.1
WARMDOWN_FRAC = 0.3
DEPTH = 4
time.sleep({train})
far = lambda value, best: (math.log10(value) - math.log10(best)) ** 2
print("---")
print(f"val_bpb: {{1.0 + far(LEARNING_RATE, 0.0145) + far(WEIGHT_DECAY, 0.05) + far(WARMDOWN_FRAC, 0.5) + far(DEPTH, 6):.6f}}")
print("peak_vram_mb: 100.0")
"""
STALE = "no longer applies on "  # how the editor words a proposal that a keep moved the branch under
_CONSTANT = re.compile(r"^([A-Z][A-Z0-9_]*) = ([0-9]*\.[0-9]+(?:e-?[0-9]+)?)$", re.MULTILINE)


def in_flight_names(prompt: str) -> set[str]:
    """Constants the prompt's in-flight section says other experiments edit."""
    section = re.search(r"^## In flight[^\n]*\n(.*?)(?=^## |\Z)", prompt, re.MULTILINE | re.DOTALL)
    return set(re.findall(r"`([A-Z][A-Z0-9_]*) =", section.group(1))) if section else set()


def start_thinking_model(think: float) -> ChatStandIn:
    """A Chat Completions endpoint that, after `think` seconds, rescales a float constant of train.py a little.

    Like a model pushing its best lever, it prefers LEARNING_RATE, and like a model that reads the whole prompt,
    it leaves alone a constant that the prompt lists as edited by an experiment in flight.
    """
    calls = {"n": 0}
    lock = threading.Lock()

    def answer(prompt: str) -> dict:
        code = prompt[prompt.index("## train.py at"):]
        busy = in_flight_names(prompt)
        constants = _CONSTANT.findall(code)
        name, current = next(((n, v) for n, v in constants if n not in busy), constants[0])
        with lock:
            calls["n"] += 1
            n = calls["n"]
        new = f"{float(current) * (1 + 0.01 * n * (1 if n % 2 else -1)):.6g}"
        return {"description": f"scale {name} to {new}", "rationale": "probe", "expected_vram_impact": "none",
                "edits": [{"search": f"{name} = {current}", "replace": f"{name} = {new}"}]}

    return ChatStandIn(answer, think, model="thinker")


async def record(command: list[str], nats_dir: Path, env: dict[str, str]) -> tuple[dict[str, list[dict]], str]:
    """Run `up` against a private server; its run.finished, verdict.decided and proposal.rejected events, and its output."""
    server = EmbeddedNats(nats_dir)
    url = server.start()
    seen: dict[str, dict[str, dict]] = {kind.subject: {} for kind in (RunFinished, VerdictDecided, ProposalRejected)}
    nc = await nats.connect(url)

    async def keep(msg) -> None:
        event = json.loads(msg.data)
        seen[msg.subject][event["event_id"]] = event  # a publish retried is one event

    for subject in seen:
        await nc.subscribe(subject, cb=keep)
    done = await asyncio.to_thread(subprocess.run, command, env={**os.environ, **env, "NATS_URL": url},
                                   capture_output=True, text=True)
    await nc.flush()
    await nc.close()
    server.stop()
    if done.returncode != 0:
        raise SystemExit(f"autoresearch up failed ({done.returncode}): {done.stderr[-2000:]}")
    return {subject: list(events.values()) for subject, events in seen.items()}, done.stdout + done.stderr


async def campaign(root: Path, lookahead: int, args: argparse.Namespace, model_url: str) -> tuple[dict[str, list[dict]], str]:
    """Run one campaign; its events by subject, and what `up` printed."""
    workspace = root / f"workspace-{lookahead}"
    commit_workspace(workspace, TRAIN_PY.format(train=args.train))
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", f"la{lookahead}",
               "--max-experiments", str(args.experiments), "--lookahead", str(lookahead), "--http-port", "0",
               "--proposer", args.proposer, "--proposers", args.proposers, "--train-command", f"{sys.executable} train.py",
               "--keep-rule", "greedy", "--baseline-runs", "1", "--skip-checks"]
    env = {"AUTORESEARCH_LLM_BASE_URL": model_url, "AUTORESEARCH_LLM_MODEL": "thinker"} if args.proposer == "llm" else {}
    return await record(command, root / f"nats-{lookahead}", env)


def idle_share(runs: list[dict]) -> tuple[float, float]:
    """(idle seconds, idle share) between the first run's start and the last run's end."""
    spans = sorted((datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"])) for r in runs)
    busy = sum((end - start).total_seconds() for start, end in spans)
    total = (spans[-1][1] - spans[0][0]).total_seconds()
    return total - busy, (total - busy) / total


def collisions(events: dict[str, list[dict]]) -> str:
    """Prepared proposals thrown away after a keep, against keeps and all proposals decided or rejected."""
    keeps = sum(1 for v in events[VerdictDecided.subject] if v["status"] == "keep" and not v.get("baseline"))
    rejected = events[ProposalRejected.subject]
    stale = sum(1 for r in rejected if r["reason"].startswith(STALE))
    settled = len([v for v in events[VerdictDecided.subject] if not v.get("baseline")]) + len(rejected)
    return f"rejected after a keep {stale} (of {keeps} keeps; {stale}/{settled} proposals)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=6)
    parser.add_argument("--think", type=float, default=3.0, help="seconds the model takes per proposal")
    parser.add_argument("--train", type=float, default=4.0, help="seconds each training run takes")
    parser.add_argument("--lookaheads", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--proposer", choices=["llm", "search"], default="llm")
    parser.add_argument("--proposers", default="1", help="a number, or auto")
    args = parser.parse_args()
    model = start_thinking_model(args.think)
    model_url = model.url
    thinks = f"model thinks {args.think}s" if args.proposer == "llm" else "search proposer"
    print(f"{args.experiments} experiments, {thinks}, training takes {args.train}s, proposers {args.proposers}")
    with tempfile.TemporaryDirectory(prefix="autoresearch-lookahead-") as tmp:
        for lookahead in args.lookaheads:
            started = time.monotonic()
            events, output = asyncio.run(campaign(Path(tmp), lookahead, args, model_url))
            idle, share = idle_share(events[RunFinished.subject])
            added = output.count("starting proposer-")
            print(f"lookahead {lookahead}: wall {time.monotonic() - started:6.1f}s · trainer idle {idle:6.1f}s "
                  f"({100 * share:4.1f}% of the campaign) · {collisions(events)}"
                  + (f" · proposers added {added}" if added else ""))
    model.close()


if __name__ == "__main__":
    main()
