"""Fakes shared by the unit tests."""

from __future__ import annotations

from shared.events import Event


class FakePublisher:
    """Remembers every event it was asked to publish."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: type[Event]) -> list[Event]:
        """The published events of one type."""
        return [e for e in self.events if isinstance(e, kind)]
