"""Benchmark: what bringing a proposer's records up to date costs as a campaign grows.

Fills a private NATS server with the events of N experiments (proposal, commit,
run with 30 step lines, verdict), then times, for one more experiment's events,
a full replay of the campaign (what each ticket cost when proposers replayed the
stream per ticket) against the proposer's follower, which reads only what came
since its last call. Prints the median of --repeats for each N.

    .venv/bin/python bench/proposer_catch_up.py [--sizes 20 200 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from services.proposer.follow import CampaignFollower
from services.proposer.records import RECORD_KINDS, fold_records
from shared.bus import connect
from shared.edits import Edit
from shared.embedded import EmbeddedNats
from shared.events import CommitMade, Event, ProposalCreated, RunFinished, RunProgress, VerdictDecided
from shared.replay import replay

HEAD = "a" * 40
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def experiment(number: int) -> list[Event]:
    """The events one experiment publishes, step lines included."""
    ids = dict(campaign="bench", experiment_id=f"bench-{number:04d}", producer="bench/1")
    commit = f"{number:040x}"
    return [
        ProposalCreated(**ids, base_commit=HEAD, description=f"idea {number}", edits=[Edit(search="A", replace="B")]),
        CommitMade(**ids, commit=commit, parent=HEAD, message="m", description=f"idea {number}", diff="-A\n+B\n",
                   lines_added=1, lines_removed=1, bundle="b"),
        *[RunProgress(**ids, commit=commit, step=step, loss=3.0 - step / 100) for step in range(30)],
        RunFinished(**ids, commit=commit, parent=HEAD, status="ok", metrics={"val_bpb": 1.0}, started_at=NOW,
                    finished_at=NOW, log_tail="val_bpb: 1.0\n" * 50),
        VerdictDecided(**ids, commit=commit, status="discard", val_bpb=1.0, head=HEAD),
    ]


async def measure(size: int, repeats: int) -> tuple[float, float]:
    """Median seconds of a full replay and of a follower's catch-up after one more experiment."""
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats")
        bus = await connect(server.start(), "bench/1")
        try:
            for number in range(1, size + 1):
                for event in experiment(number):
                    await bus.publish(event)
            follower = CampaignFollower(bus, loss_curves=True)
            await follower.records("bench")
            full, incremental = [], []
            for extra in range(repeats):
                for event in experiment(size + 1 + extra):
                    await bus.publish(event)
                began = time.perf_counter()
                fold_records(await replay(bus, RECORD_KINDS, "bench"))
                full.append(time.perf_counter() - began)
                began = time.perf_counter()
                await follower.records("bench")
                incremental.append(time.perf_counter() - began)
            return statistics.median(full), statistics.median(incremental)
        finally:
            await bus.close()
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 200, 2000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("experiments  full replay per ticket  follower catch-up")
    for size in args.sizes:
        full, incremental = asyncio.run(measure(size, args.repeats))
        print(f"{size:>11}  {full * 1000:>18.1f} ms  {incremental * 1000:>14.1f} ms")


if __name__ == "__main__":
    main()
