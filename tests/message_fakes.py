"""A stand-in for a JetStream message, for driving shared.bus.handle_message without a server."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FakeMetadata:
    """The part of a message's JetStream metadata the bus reads."""

    num_delivered: int = 1


@dataclass
class FakeMsg:
    """Records how the bus settled it: 'ack', 'nak' or 'term' (and any in-progress pings)."""

    subject: str
    data: bytes
    metadata: FakeMetadata = field(default_factory=FakeMetadata)
    settled: list[str] = field(default_factory=list)
    nak_delays: list[float | None] = field(default_factory=list)

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")
        self.nak_delays.append(delay)

    async def term(self) -> None:
        self.settled.append("term")

    async def in_progress(self) -> None:
        pass

    def redelivered(self) -> FakeMsg:
        """The same message as JetStream hands it over again."""
        return FakeMsg(self.subject, self.data, FakeMetadata(self.metadata.num_delivered + 1))
