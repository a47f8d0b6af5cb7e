"""Benchmark: wall time of a second campaign in a workspace whose first campaign's consumers stay behind on the server.

Runs `autoresearch up` twice in one fresh workspace against one private NATS
server (--first-experiments, then --second-experiments, each run of train.py
taking --train seconds) and prints each campaign's wall time and how many
events the first campaign's trainer consumers hold unhandled at the end.

    .venv/bin/python bench/second_campaign.py [--first-experiments 1] [--second-experiments 2] [--train 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nats

from services.trainer.consumers import durables
from shared.bus import STREAM
from recording import make_workspace
from shared.embedded import EmbeddedNats

def campaign(workspace: Path, url: str, tag: str, experiments: int) -> float:
    """Run one campaign to its experiment limit; return its wall time."""
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", tag,
               "--max-experiments", str(experiments), "--http-port", "0", "--train-command", f"{sys.executable} train.py"]
    started = time.monotonic()
    done = subprocess.run(command, env={**os.environ, "NATS_URL": url}, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"autoresearch up --tag {tag} failed ({done.returncode}): {done.stderr[-2000:]}")
    return wall


async def left_behind(url: str, tag: str) -> int:
    """Events the campaign's trainer consumers hold that no trainer will handle."""
    nc = await nats.connect(url)
    consumers = {c.config.durable_name: c for c in await nc.jetstream().consumers_info(STREAM)}
    await nc.close()
    names = sorted(durables(tag))
    return sum(consumers[name].num_pending + consumers[name].num_ack_pending for name in names if name in consumers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-experiments", type=int, default=1)
    parser.add_argument("--second-experiments", type=int, default=2)
    parser.add_argument("--train", type=float, default=0.1, help="seconds each training run takes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autoresearch-second-") as tmp:
        workspace = Path(tmp) / "workspace"
        make_workspace(workspace, args.train)
        server = EmbeddedNats(Path(tmp) / "nats")
        url = server.start()
        try:
            first = campaign(workspace, url, "first", args.first_experiments)
            second = campaign(workspace, url, "second", args.second_experiments)
            behind = asyncio.run(left_behind(url, "first"))
        finally:
            server.stop()
    print(f"first campaign:  {args.first_experiments} experiment(s) after the baseline, wall {first:.1f}s")
    print(f"second campaign: {args.second_experiments} experiment(s) after the baseline, wall {second:.1f}s")
    print(f"events the first campaign's trainer consumers hold unhandled: {behind}")


if __name__ == "__main__":
    main()
