"""Benchmark: a real campaign on a fresh tiny-GPT workspace with the built-in search proposer.

Prints the baseline and best val_bpb, the improvement, keeps/discards/crashes,
wall time and the share of wall time spent inside training runs.

    .venv/bin/python bench/campaign.py [--experiments 12] [--time-budget 30] [--lookahead 1]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from recording import record_campaign


async def run_campaign(args: argparse.Namespace, root: Path) -> tuple[float, list[dict], Path]:
    """Make a fresh workspace and run the campaign on it."""
    workspace = root / "workspace"
    subprocess.run([sys.executable, "-m", "autoresearch", "init", str(workspace), "--time-budget", str(args.time_budget)],
                   check=True, capture_output=True)
    command = [sys.executable, "-m", "autoresearch", "up", "--workspace", str(workspace), "--tag", "bench",
               "--max-experiments", str(args.experiments), "--lookahead", str(args.lookahead), "--http-port", "0"]
    wall, runs = await record_campaign(command, root / "nats")
    return wall, runs, workspace / "results.tsv"


def seconds(run: dict) -> float:
    return (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds()


def report(wall: float, runs: list[dict], results: Path, args: argparse.Namespace) -> None:
    rows = [line.split("\t") for line in results.read_text().splitlines()[1:]]
    baseline = float(rows[0][1])
    kept = [float(r[1]) for r in rows if r[3] == "keep"]
    best = min(kept)
    counts = {status: sum(1 for r in rows[1:] if r[3] == status) for status in ("keep", "discard", "crash")}
    in_runs = sum(seconds(r) for r in runs)
    training = sum(float(r["metrics"].get("training_seconds", 0.0)) for r in runs)
    print(f"experiments:        {len(rows) - 1} after the baseline ({args.time_budget}s budget, lookahead {args.lookahead})")
    print(f"baseline val_bpb:   {baseline:.6f}")
    print(f"best val_bpb:       {best:.6f}")
    print(f"improvement:        {100 * (baseline - best) / baseline:.2f}%  (target: at least 5%)")
    print(f"keep/discard/crash: {counts['keep']}/{counts['discard']}/{counts['crash']}")
    print(f"wall time:          {wall:.1f}s")
    print(f"inside runs:        {in_runs:.1f}s ({100 * in_runs / wall:.1f}% of wall time)")
    print(f"training proper:    {training:.1f}s ({100 * training / wall:.1f}% of wall time)")
    print("kept:")
    for row in rows:
        if row[3] == "keep":
            print(f"  {row[0]} {row[1]} {row[4]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=12)
    parser.add_argument("--time-budget", type=int, default=30)
    parser.add_argument("--lookahead", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autoresearch-bench-") as tmp:
        wall, runs, results = asyncio.run(run_campaign(args, Path(tmp)))
        report(wall, runs, results, args)


if __name__ == "__main__":
    main()
