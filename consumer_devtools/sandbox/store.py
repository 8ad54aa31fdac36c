"""What the sandbox account holds: contacts and their activities, in one SQLite file.

One connection, WAL journal, and a lock around every statement: the event loop does the
writes and the test thread may read at the same time. Statements are tiny (one insert,
one commit) so holding the loop for them is cheaper than a thread hop per request.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    id INTEGER PRIMARY KEY,
    identifier_type TEXT NOT NULL,      -- email / phone / mobile / unique_external_id
    value TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (identifier_type, value)
);
CREATE TABLE IF NOT EXISTS activities (
    id INTEGER PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id),
    received_at TEXT NOT NULL,          -- ISO-8601 UTC with milliseconds
    happened_at TEXT NOT NULL,          -- activity.timestamp normalised, else received_at
    activity TEXT NOT NULL              -- the activity JSON exactly as posted
);
CREATE INDEX IF NOT EXISTS activities_by_contact ON activities (contact_id, happened_at);
"""


def iso_ms(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds, e.g. 2020-10-01T14:00:00.000Z (sorts as text)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _activity_record(row: tuple[Any, ...]) -> dict[str, Any]:
    activity_id, received_at, identifier_type, value, activity = row
    return {"id": activity_id, "received_at": received_at,
            "contact": {identifier_type: value}, "activity": orjson.loads(activity)}


class ActivityStore:
    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # WAL + NORMAL: a commit is a write to the log, no fsync per POST; a crash may lose
        # the last moments, which a test sandbox can afford for >1,500 POSTs/s.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._contact_ids: dict[tuple[str, str], int] = {}

    def add_activity(self, identifier_type: str, value: str, activity: dict[str, Any],
                     happened_at: datetime | None) -> dict[str, Any]:
        """Store one accepted activity, creating its contact on first sight; returns the
        record as /_sandbox/activities shows it."""
        now = datetime.now(UTC)
        received_at = iso_ms(now)
        encoded = orjson.dumps(activity).decode()
        with self._lock:
            contact_id = self._contact_id(identifier_type, value, received_at)
            cursor = self._db.execute(
                "INSERT INTO activities (contact_id, received_at, happened_at, activity) "
                "VALUES (?, ?, ?, ?)",
                (contact_id, received_at, iso_ms(happened_at or now), encoded))
        return {"id": cursor.lastrowid, "received_at": received_at,
                "contact": {identifier_type: value}, "activity": activity}

    def _contact_id(self, identifier_type: str, value: str, now: str) -> int:
        key = (identifier_type, value)
        if key not in self._contact_ids:
            self._db.execute(
                "INSERT OR IGNORE INTO contacts (identifier_type, value, created_at) "
                "VALUES (?, ?, ?)", (identifier_type, value, now))
            row = self._db.execute(
                "SELECT id FROM contacts WHERE identifier_type = ? AND value = ?", key
            ).fetchone()
            self._contact_ids[key] = row[0]
        return self._contact_ids[key]

    def activities(self, contact: str | None = None) -> list[dict[str, Any]]:
        """Everything stored, oldest first; `contact` keeps one identifier value's."""
        sql = ("SELECT a.id, a.received_at, c.identifier_type, c.value, a.activity "
               "FROM activities a JOIN contacts c ON c.id = a.contact_id")
        params: tuple[str, ...] = ()
        if contact is not None:
            sql += " WHERE c.value = ?"
            params = (contact,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY a.id", params).fetchall()
        return [_activity_record(row) for row in rows]

    def contacts(self) -> list[dict[str, Any]]:
        """Every contact with its activity count, most recently created last."""
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.identifier_type, c.value, c.created_at, COUNT(a.id) "
                "FROM contacts c LEFT JOIN activities a ON a.contact_id = c.id "
                "GROUP BY c.id ORDER BY c.id").fetchall()
        return [{"id": r[0], "identifier_type": r[1], "value": r[2], "created_at": r[3],
                 "activities": r[4]} for r in rows]

    def timeline(self, contact_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """A contact and its activities newest first (by when they happened, then arrived),
        the order Freshdesk's timeline shows; None for an unknown contact."""
        with self._lock:
            contact = self._db.execute(
                "SELECT id, identifier_type, value, created_at FROM contacts WHERE id = ?",
                (contact_id,)).fetchone()
            if contact is None:
                return None
            rows = self._db.execute(
                "SELECT id, received_at, happened_at, activity FROM activities "
                "WHERE contact_id = ? ORDER BY happened_at DESC, id DESC",
                (contact_id,)).fetchall()
        head = dict(zip(("id", "identifier_type", "value", "created_at"), contact, strict=True))
        return head, [{"id": r[0], "received_at": r[1], "happened_at": r[2],
                       "activity": orjson.loads(r[3])} for r in rows]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM activities")
            self._db.execute("DELETE FROM contacts")
            self._contact_ids.clear()

    def close(self) -> None:
        with self._lock:
            self._db.close()
