"""Every campaign's read model, following the store: each stored event is folded in once, then served from memory."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from services.ledger.experiments import CampaignView
from services.ledger.store import EventStore
from shared.events import RunProgress


class UnknownCampaign(LookupError):
    """The ledger has never seen the campaign."""


class Projection:
    """Campaign views folded from the store, brought up to date before each read.

    The first read (or warm()) folds the whole store; every later one folds only what was stored since, so a
    request's cost does not grow with the campaign's length. Step lines are the one shortcut: of those stored
    since the last read, only each campaign's newest is folded (a view shows only the latest, whatever came before).
    The consumer stores events from the event loop while the API reads from worker threads, so every fold and
    every read holds one lock.
    """

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.views: dict[str, CampaignView] = {}  # in order of first appearance
        self.seq = 0  # the last stored event folded in
        self.lock = threading.Lock()

    def warm(self) -> None:
        """Fold whatever the store holds that is not folded yet."""
        with self.lock:
            self._catch_up()

    @contextmanager
    def reading(self, campaign: str | None = None) -> Iterator[CampaignView | None]:
        """Up-to-date views held still for one read: the campaign's, or None when no campaign is named.

        Raises UnknownCampaign for a campaign the store has never seen.
        """
        with self.lock:
            self._catch_up()
            view = None
            if campaign is not None and (view := self.views.get(campaign)) is None:
                raise UnknownCampaign(campaign)
            yield view

    def campaigns(self) -> list[str]:
        """Every campaign seen, in order of first appearance (call while reading)."""
        return list(self.views)

    def _catch_up(self) -> None:
        top = self.store.last_seq()
        if top == self.seq:
            return
        for campaign in self.store.campaigns_after(self.seq, top):
            self.views.setdefault(campaign, CampaignView(campaign))
        for event in self.store.stored_after(self.seq, top, skip=RunProgress):
            self.views[event.campaign].apply(event)
        for progress in self.store.latest_each(RunProgress, self.seq, top):
            self.views[progress.campaign].apply(progress)
        self.seq = top
