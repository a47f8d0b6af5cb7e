"""`up` learns that its campaign finished from the stream too, not only from its live subscription."""

from __future__ import annotations

import asyncio

from autoresearch.up import _finished_in_record
from shared.bus import Bus
from shared.events import CampaignFinished
from shared.replay import StreamCursor

HEAD = "a" * 40


def finished(campaign: str, experiments: int) -> CampaignFinished:
    return CampaignFinished(campaign=campaign, experiment_id=f"{campaign}-{experiments:04d}", producer="test/1",
                            experiments=experiments, head=HEAD)


async def test_an_end_published_while_nobody_listened_live_still_ends_the_session(bus: Bus):
    await bus.publish(finished("c1", 3))  # an earlier session's end
    ends = StreamCursor(bus, [CampaignFinished], "c1")
    await ends.fetch_new()
    done, stop = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(_finished_in_record(ends, done, stop, every=0.05))
    await bus.publish(finished("c2", 5))  # another campaign's end is not ours
    await bus.publish(finished("c1", 6))
    await asyncio.wait_for(done.wait(), 10)
    await watcher
    assert done.is_set()


async def test_an_earlier_sessions_end_does_not_end_this_one(bus: Bus):
    await bus.publish(finished("c1", 3))
    ends = StreamCursor(bus, [CampaignFinished], "c1")
    await ends.fetch_new()
    done, stop = asyncio.Event(), asyncio.Event()
    watcher = asyncio.create_task(_finished_in_record(ends, done, stop, every=0.01))
    await bus.publish(finished("c2", 5))
    for _ in range(20):  # many looks at the stream
        await asyncio.sleep(0.01)
    stop.set()
    await watcher
    assert not done.is_set() and await ends.fetch_new() == []
