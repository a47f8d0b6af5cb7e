"""Which campaigns the ledger records: those whose trainer opened them, and not after they finished.

An event naming a campaign that never started (a typo, a forgery) would otherwise become a campaign of its
own in the API; one arriving after a campaign's end would add rows to a finished record. Both are set aside.
A finished campaign opens again when its trainer records a new limit or starts it again (`up --resume`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.ledger.store import EventStore
from shared.events import CampaignFinished, CampaignLimited, CampaignStarted, Event

OPENING = (CampaignStarted, CampaignLimited)
MARKERS = [CampaignStarted, CampaignLimited, CampaignFinished]


@dataclass
class CampaignGate:
    """Open and finished campaigns, folded from their start, limit and finish events."""

    open: set[str] = field(default_factory=set)
    finished: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, store: EventStore) -> CampaignGate:
        """The gate as the stored events leave it."""
        gate = cls()
        for event in store.events(kinds=MARKERS):
            gate.apply(event)
        return gate

    def refusal(self, event: Event) -> str | None:
        """Why the event is not recorded, or None when it is."""
        campaign = event.campaign
        if isinstance(event, CampaignStarted):
            return None
        if campaign not in self.open and campaign not in self.finished:
            return "its campaign never started"
        if campaign in self.finished and not isinstance(event, OPENING):
            return "its campaign has finished"
        return None

    def apply(self, event: Event) -> None:
        """Fold a recorded event in."""
        if isinstance(event, OPENING):
            self.open.add(event.campaign)
            self.finished.discard(event.campaign)
        elif isinstance(event, CampaignFinished):
            self.finished.add(event.campaign)
            self.open.discard(event.campaign)
