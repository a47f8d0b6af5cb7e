"""Answers a consumer gave to its latest messages, to give again after a reconnect.

A nats-server killed outright loses its consumers' last moments: an acknowledged message comes back as
pending, and with max_ack_pending=1 it holds its consumer back for the whole ack wait. Answering again
once reconnected settles it at once; the server ignores an answer to a message that is no longer pending.
"""

from __future__ import annotations

import contextlib

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

log = structlog.get_logger("bus")
RECENT = 32  # far more than a killed server forgets: it writes consumer state up to ten times a second


class SettledMessage:
    """A delivered message that remembers its final answer (ack or term); anything else goes to the message."""

    def __init__(self, msg: Msg) -> None:
        self.msg = msg
        self.answer: bytes | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self.msg, name)

    async def ack(self) -> None:
        """Acknowledge, and remember it."""
        await self.msg.ack()
        self.answer = Msg.Ack.Ack

    async def term(self) -> None:
        """Set aside for good, and remember it."""
        await self.msg.term()
        self.answer = Msg.Ack.Term


class RecentAnswers:
    """The final answers to a consumer's latest messages, by stream sequence, oldest first."""

    def __init__(self) -> None:
        self._settled: dict[int, SettledMessage] = {}

    def remember(self, kept: SettledMessage) -> None:
        """Keep the answer to a message that was settled (one handed back is not)."""
        if kept.answer is None:
            return
        sequence = kept.msg.metadata.sequence.stream
        self._settled.pop(sequence, None)
        self._settled[sequence] = kept
        while len(self._settled) > RECENT:
            del self._settled[next(iter(self._settled))]

    async def give_again(self, nc: NATS, durable: str) -> None:
        """After a reconnect, give the recent answers again, in case the server lost them."""
        for kept in list(self._settled.values()):
            with contextlib.suppress(Exception):
                await nc.publish(kept.msg.reply, kept.answer)
        log.info("reconnected; recent answers given again", durable=durable, count=len(self._settled))
