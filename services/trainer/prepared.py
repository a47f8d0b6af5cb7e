"""The next commit, made ready while the current run trains: imported, checked and given its clean room.

Everything but the branch move is known before the verdict: whether the commit's objects arrive, whether it
changes train.py alone, and the room it would run in. The verdict then decides only whether it runs (its parent
is still the tip) or goes back stale (a keep moved the tip), so no import or room building sits between runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from shared.events import CommitMade
from shared.gitobjects import MissingObjects

log = structlog.get_logger("trainer")


class Room(Protocol):
    """A run's clean room, as far as a prepared commit cares: something to remove if it never runs."""

    def remove(self) -> None: ...


class RoomBuilder(Protocol):
    """What checks a commit and builds its room: the workspace."""

    def refusal(self, commit: str, parent: str) -> str | None: ...

    def build_room(self, commit: str) -> Room: ...


@dataclass
class Prepared:
    """A commit ready to run (room), or one that cannot run (failure says why, for its crash)."""

    commit: str
    room: Room | None = None
    failure: str | None = None

    def drop(self) -> None:
        """Remove the room of a commit that will not run here."""
        room, self.room = self.room, None
        if room is not None:
            room.remove()


async def prepare(
    event: CommitMade, workspace: RoomBuilder, ensure_commit: Callable[[str], Awaitable[None]], git_lock: asyncio.Lock,
) -> Prepared:
    """Import the commit, check it and build its room, one git step at a time with the trainer's other git work."""
    async with git_lock:  # the workspace's long-lived `git cat-file` serves one caller at a time
        try:
            await ensure_commit(event.commit)
        except MissingObjects as exc:  # asking again finds the same nothing: the experiment ends as a crash
            return Prepared(event.commit, failure=f"the commit's objects could not be fetched: {exc}")
        refusal = await asyncio.to_thread(workspace.refusal, event.commit, event.parent)
        if refusal is not None:
            return Prepared(event.commit, failure=f"the commit was refused: {refusal}")
        room = await asyncio.to_thread(workspace.build_room, event.commit)
    log.info("next commit prepared", experiment_id=event.experiment_id, commit=event.commit[:7])
    return Prepared(event.commit, room)
