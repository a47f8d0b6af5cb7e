"""Fanning new events out to live readers (the server-sent event streams) inside the ledger process."""

from __future__ import annotations

import asyncio

from shared.events import Event

BACKLOG = 1000


class Subscription:
    """One reader's queue of events; None in the queue means the stream is over."""

    def __init__(self, campaign: str | None, backlog: int) -> None:
        self.campaign = campaign
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=backlog)

    def offer(self, event: Event) -> bool:
        """Queue an event for this reader; False when the reader has fallen too far behind."""
        if self.campaign is not None and event.campaign != self.campaign:
            return True
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            return False
        return True

    def end(self) -> None:
        """Make the reader's next get return None, after dropping what it has not read."""
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)

    async def get(self, timeout: float) -> Event | None:
        """The next event; raises TimeoutError when none came within timeout."""
        return await asyncio.wait_for(self.queue.get(), timeout)


class Broadcaster:
    """Hands every newly stored event to every subscriber, from the ledger's own event loop.

    A reader that falls BACKLOG events behind is cut off rather than allowed to
    hold memory without bound; an EventSource then reconnects with Last-Event-ID
    and catches up from the store.
    """

    def __init__(self, backlog: int = BACKLOG) -> None:
        self.backlog = backlog
        self.subscriptions: set[Subscription] = set()
        self.closed = False

    def subscribe(self, campaign: str | None = None) -> Subscription:
        """A new reader, optionally of one campaign only."""
        subscription = Subscription(campaign, self.backlog)
        if self.closed:
            subscription.end()
        else:
            self.subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a reader that went away."""
        self.subscriptions.discard(subscription)

    def publish(self, event: Event) -> None:
        """Offer an event to every reader."""
        for subscription in list(self.subscriptions):
            if not subscription.offer(event):
                self.subscriptions.discard(subscription)
                subscription.end()

    def close(self) -> None:
        """End every stream, so the HTTP server can shut down without waiting on them."""
        self.closed = True
        for subscription in list(self.subscriptions):
            subscription.end()
        self.subscriptions.clear()
