"""The evaluator service restarted: its standings come back from the stream."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from services.evaluator.main import EvaluatorSettings, serve
from shared.bus import Bus
from shared.events import RunFinished, VerdictDecided, parse_event

BASE, BETTER, WORSE, BEST = "b" * 40, "1" * 40, "2" * 40, "3" * 40
NOW = datetime(2025, 11, 27, tzinfo=UTC)


def run(number: int, commit: str, parent: str | None, val_bpb: float) -> RunFinished:
    return RunFinished(campaign="c1", experiment_id=f"c1-{number:04d}", producer="trainer/1", commit=commit,
                       parent=parent, status="ok", metrics={"val_bpb": val_bpb, "peak_vram_mb": 1024.0},
                       started_at=NOW, finished_at=NOW, baseline=parent is None, description=f"run {number}")


async def wait_for_count(verdicts: list[VerdictDecided], count: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while len(verdicts) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(verdicts)} verdicts, expected {count}")
        await asyncio.sleep(0.02)


def start(bus: Bus, instance: str) -> tuple[asyncio.Event, asyncio.Task]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(serve(bus, stop, EvaluatorSettings(instance=instance, baseline_runs=1)))


async def test_restarted_evaluator_judges_against_the_best_from_before(bus: Bus):
    verdicts: list[VerdictDecided] = []

    async def keep(msg) -> None:  # every publish, duplicates included, as any observer would see it
        verdicts.append(parse_event(msg.data, msg.subject))

    await bus.nc.subscribe("verdict.decided", cb=keep)

    stop, task = start(bus, "first")
    await bus.publish(run(0, BASE, None, 1.0))
    await bus.publish(run(1, BETTER, BASE, 0.9))
    await wait_for_count(verdicts, 2)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert [(v.experiment_id, v.status, v.best_after) for v in verdicts] == [("c1-0000", "keep", 1.0),
                                                                             ("c1-0001", "keep", 0.9)]

    stop, task = start(bus, "second")
    await bus.publish(run(1, BETTER, BASE, 0.9))  # the trainer republished it under a new event id
    await bus.publish(run(2, WORSE, BETTER, 0.95))
    await bus.publish(run(3, BEST, BETTER, 0.8))  # runs are judged in order: its verdict comes after any for the above
    await wait_for_count(verdicts, 4)
    stop.set()
    await asyncio.wait_for(task, 10)

    assert [v.experiment_id for v in verdicts] == ["c1-0000", "c1-0001", "c1-0002", "c1-0003"]  # none again for c1-0001
    worse, best = verdicts[2], verdicts[3]
    assert (worse.experiment_id, worse.status, worse.head) == ("c1-0002", "discard", BETTER)
    assert (worse.best_before, worse.best_after) == (0.9, 0.9)
    assert worse.producer == "evaluator/second"
    assert (best.status, best.best_before, best.best_after, best.head) == ("keep", 0.9, 0.8, BEST)
