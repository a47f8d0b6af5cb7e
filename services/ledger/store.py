"""The event store: every event, once, in SQLite, queryable by campaign."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from shared.events import Event, VerdictDecided, parse_event

# WAL keeps each commit durable at a third of the cost of the default journal, which a rebuild
# from the stream (thousands of events, one commit each) feels.
SCHEMA = """
PRAGMA journal_mode = WAL;
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT UNIQUE NOT NULL,
    type TEXT NOT NULL,
    campaign TEXT NOT NULL,
    experiment_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_campaign ON events (campaign, type);
"""


class EventStore:
    """Append-only event log with idempotent inserts.

    The consumer writes from the event loop while the read API queries from
    its worker threads, so every use of the one connection holds a lock.
    """

    def __init__(self, path: Path) -> None:
        if str(path) != ":memory:":  # SQLite's name for a store that never touches the disk
            private(path)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)
        self.lock = threading.Lock()

    def add(self, event: Event) -> bool:
        """Store an event; False when it was already stored."""
        with self.lock, self.db:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO events (event_id, type, campaign, experiment_id, occurred_at, payload) VALUES (?,?,?,?,?,?)",
                (event.event_id, event.type, event.campaign, event.experiment_id, event.occurred_at.isoformat(), event.model_dump_json()),
            )
        return cursor.rowcount == 1

    def _rows(self, query: str, args: list | tuple = ()) -> list[tuple]:
        with self.lock:
            return self.db.execute(query, args).fetchall()

    def is_empty(self) -> bool:
        """True when nothing has been stored yet."""
        return not self._rows("SELECT 1 FROM events LIMIT 1")

    def events(
        self, campaign: str | None = None, kinds: Sequence[type[Event]] | None = None, after_seq: int = 0, limit: int | None = None,
    ) -> list[Event]:
        """Stored events, oldest first: optionally of one campaign, some types, stored after a sequence number."""
        types = [kind.subject for kind in kinds or ()]
        query, args = "SELECT payload FROM events WHERE seq > ?", [after_seq]
        if campaign is not None:
            query, args = query + " AND campaign = ?", [*args, campaign]
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
            args += types
        query += " ORDER BY seq" + (" LIMIT ?" if limit is not None else "")
        rows = self._rows(query, args + ([limit] if limit is not None else []))
        return [event for row in rows if (event := _parse_stored(row[0])) is not None]

    def last_seq(self) -> int:
        """The sequence number of the newest stored event; 0 when none is."""
        return self._rows("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0]

    def stored_after(self, after_seq: int, up_to: int, skip: type[Event] | None = None) -> list[Event]:
        """Events stored after one sequence number up to another, oldest first, optionally leaving out one type."""
        query = "SELECT payload FROM events WHERE seq > ? AND seq <= ?" + (" AND type != ?" if skip else "") + " ORDER BY seq"
        rows = self._rows(query, (after_seq, up_to, *([skip.subject] if skip else [])))
        return [event for row in rows if (event := _parse_stored(row[0])) is not None]

    def latest_each(self, kind: type[Event], after_seq: int, up_to: int) -> list[Event]:
        """Each campaign's newest event of one type stored within (after_seq, up_to]."""
        query = ("SELECT payload FROM events WHERE seq IN (SELECT MAX(seq) FROM events"
                 " WHERE seq > ? AND seq <= ? AND type = ? GROUP BY campaign) ORDER BY seq")
        rows = self._rows(query, (after_seq, up_to, kind.subject))
        return [event for row in rows if (event := _parse_stored(row[0])) is not None]

    def campaigns_after(self, after_seq: int, up_to: int) -> list[str]:
        """Campaigns with events stored within (after_seq, up_to], in order of their first such event."""
        query = "SELECT campaign FROM events WHERE seq > ? AND seq <= ? GROUP BY campaign ORDER BY MIN(seq)"
        return [row[0] for row in self._rows(query, (after_seq, up_to))]

    def latest(self, campaign: str, kind: type[Event]) -> Event | None:
        """The campaign's most recent event of one type."""
        query = "SELECT payload FROM events WHERE campaign = ? AND type = ? ORDER BY seq DESC LIMIT 1"
        rows = self._rows(query, (campaign, kind.subject))
        return _parse_stored(rows[0][0]) if rows else None

    def seq_of(self, event_id: str) -> int | None:
        """Where an event sits in the store, for resuming a stream after it."""
        rows = self._rows("SELECT seq FROM events WHERE event_id = ?", (event_id,))
        return rows[0][0] if rows else None

    def count(self) -> int:
        """How many events are stored."""
        return self._rows("SELECT COUNT(*) FROM events")[0][0]

    def verdicts(self, campaign: str) -> list[VerdictDecided]:
        """A campaign's verdicts in the order they were decided."""
        return [e for e in self.events(campaign, [VerdictDecided]) if isinstance(e, VerdictDecided)]

    def campaigns(self) -> list[str]:
        """Every campaign seen, in order of first appearance."""
        return [row[0] for row in self._rows("SELECT campaign FROM events GROUP BY campaign ORDER BY MIN(seq)")]

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self.db.close()


def private(path: Path) -> None:
    """Make the database file readable by its owner only, before SQLite opens it (a new folder for it too).

    The store holds every proposal, diff and log of the campaign. SQLite gives its -wal and -shm
    files the database file's mode, so these follow.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


def _parse_stored(payload: str) -> Event | None:
    """A stored event, or None for one stored under an older, looser contract that no longer validates."""
    try:
        return parse_event(payload)
    except ValueError:  # pydantic's ValidationError included
        return None
