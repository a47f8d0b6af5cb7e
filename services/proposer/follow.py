"""Following the campaigns a proposer serves: one replay at start, then only the events that came since."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from services.proposer.records import PROGRESS_KINDS, RECORD_KINDS, CampaignRecords
from shared.bus import Bus
from shared.replay import StreamCursor


class CampaignFollower:
    """Experiment records of every campaign, brought up to date before each proposal."""

    def __init__(self, bus: Bus, loss_curves: bool = False) -> None:
        self.cursors = [StreamCursor(bus, RECORD_KINDS)] + ([StreamCursor(bus, PROGRESS_KINDS)] if loss_curves else [])
        self.campaigns: dict[str, CampaignRecords] = defaultdict(CampaignRecords)
        self._lock = asyncio.Lock()  # tickets handled at once must not fold the same events twice

    async def records(self, campaign: str) -> CampaignRecords:
        """The campaign's records, with every event published so far folded in."""
        async with self._lock:
            for cursor in self.cursors:
                for event in await cursor.fetch_new():
                    self.campaigns[event.campaign].apply(event)
        return self.campaigns[campaign]
