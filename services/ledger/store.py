"""The experiment history store: every event, once, in SQLite, queryable by campaign."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from shared.events import Event, VerdictDecided, parse_event

SCHEMA = """
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
    """Append-only event log with idempotent inserts."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.executescript(SCHEMA)

    def add(self, event: Event) -> bool:
        """Store an event; False when it was already stored."""
        with self.db:
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO events (event_id, type, campaign, experiment_id, occurred_at, payload) VALUES (?,?,?,?,?,?)",
                (event.event_id, event.type, event.campaign, event.experiment_id, event.occurred_at.isoformat(), event.model_dump_json()),
            )
        return cursor.rowcount == 1

    def is_empty(self) -> bool:
        """True when nothing has been stored yet."""
        return self.db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None

    def events(self, campaign: str | None = None, types: list[str] | None = None) -> list[Event]:
        """Stored events, oldest first, optionally of one campaign and some types."""
        query, args = "SELECT payload FROM events WHERE 1=1", []
        if campaign is not None:
            query, args = query + " AND campaign = ?", [*args, campaign]
        if types:
            query += f" AND type IN ({','.join('?' * len(types))})"
            args += types
        return [parse_event(row[0]) for row in self.db.execute(query + " ORDER BY seq", args)]

    def verdicts(self, campaign: str) -> list[VerdictDecided]:
        """A campaign's verdicts in the order they were decided."""
        return [e for e in self.events(campaign, ["verdict.decided"]) if isinstance(e, VerdictDecided)]

    def campaigns(self) -> list[str]:
        """Every campaign seen, in order of first appearance."""
        rows = self.db.execute("SELECT campaign FROM events GROUP BY campaign ORDER BY MIN(seq)")
        return [row[0] for row in rows]

    def close(self) -> None:
        self.db.close()
