"""Shared bench helpers: running `autoresearch up` against a private NATS server, and git workspaces with a stand-in train.py."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path

import nats

from shared.embedded import EmbeddedNats
from shared.events import RunFinished


async def record_campaign(command: list[str], nats_dir: Path, env: dict[str, str] | None = None) -> tuple[float, list[dict]]:
    """Run the `up` command line; return its wall time and the run.finished events it produced."""
    server = EmbeddedNats(nats_dir)
    url = server.start()
    runs: list[dict] = []
    nc = await nats.connect(url)

    async def keep(msg) -> None:
        runs.append(json.loads(msg.data))

    await nc.subscribe(RunFinished.subject, cb=keep)
    started = time.monotonic()
    done = await asyncio.to_thread(subprocess.run, command, env={**os.environ, **(env or {}), "NATS_URL": url},
                                   capture_output=True, text=True)
    wall = time.monotonic() - started
    await nc.flush()
    await nc.close()
    server.stop()
    if done.returncode != 0:
        raise SystemExit(f"autoresearch up failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall, runs


TRAIN_PY = """import math
import time
LEARNING_RATE = 0.01
time.sleep({train})
print("---")
print(f"val_bpb: {{1.0 + (math.log10(LEARNING_RATE) - math.log10(0.0145)) ** 2:.6f}}")
print("peak_vram_mb: 100.0")
"""


def make_workspace(path: Path, train: float) -> None:
    """A git workspace whose train.py sleeps `train` seconds and scores its LEARNING_RATE on a known curve."""
    commit_workspace(path, TRAIN_PY.format(train=train))


def commit_workspace(path: Path, train_py: str) -> None:
    """A new git workspace of one commit: a one-second prepare.py and this train.py."""
    path.mkdir(parents=True)
    (path / "prepare.py").write_text("TIME_BUDGET = 1\n")
    (path / "train.py").write_text(train_py)
    # A stand-in computes and prints its own val_bpb: there is no prepare.py evaluation to watch.
    (path / "autoresearch.toml").write_text("[workspace]\ntrust_printed_metric = true\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=path, check=True)
