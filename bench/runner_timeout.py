"""Benchmark: how long past its wall-clock limit a training run takes to stop, its whole process group with it.

Each round runs a shell that starts a long background child and waits on it,
under --limit seconds. Prints, per round and as a median, the time from start
until run_training returned, the overshoot past the limit, and the time until
the background child was gone.

    .venv/bin/python bench/runner_timeout.py [--rounds 5] [--limit 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from services.trainer.runner import run_training, training_environment

COMMAND = "sleep 600 & echo $! > child.pid; echo started; wait"


def alive(pid: int) -> bool:
    """True while pid runs; a zombie counts as gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def one_round(folder: Path, limit: float) -> tuple[float, float]:
    """(seconds until run_training returned, seconds until the background child was gone)."""
    env = training_environment(dict(os.environ), None)
    began = time.monotonic()
    outcome = await run_training(COMMAND, folder, limit, env, folder / "run.log")
    returned = time.monotonic() - began
    if outcome.status != "timeout":
        raise SystemExit(f"expected a timeout, got {outcome.status}")
    child = int((folder / "child.pid").read_text())
    while alive(child):
        if time.monotonic() - began > limit + 30:
            raise SystemExit(f"background child {child} outlived its run by 30s")
        await asyncio.sleep(0.005)
    return returned, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--limit", type=float, default=0.5, help="the run's wall-clock limit in seconds")
    args = parser.parse_args()
    returns, gones = [], []
    with tempfile.TemporaryDirectory(prefix="autoresearch-runner-") as tmp:
        for index in range(args.rounds):
            folder = Path(tmp) / f"round-{index}"
            folder.mkdir()
            returned, gone = asyncio.run(one_round(folder, args.limit))
            returns.append(returned)
            gones.append(gone)
            print(f"round {index + 1}: returned after {returned:.3f}s (overshoot {returned - args.limit:.3f}s), "
                  f"child gone after {gone:.3f}s")
    median = statistics.median(returns)
    print(f"limit {args.limit}s · median return {median:.3f}s · median overshoot {median - args.limit:.3f}s · "
          f"median child gone {statistics.median(gones):.3f}s")


if __name__ == "__main__":
    main()
