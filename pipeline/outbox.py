"""A durable outbox on disk: incident messages wait here until the ticket API has them.

SQLite (WAL) in ``settings.home/outbox.db``. A message is written (with its evidence JPEGs)
before anything is sent and deleted only after the API answered 2xx, so an API outage or a
pipeline restart loses nothing; ``(key, seq)`` is unique and the API ignores a ``seq`` it
already applied, so nothing is doubled either. Messages go out strictly in the order they were
written (a key's updates never overtake each other). A message the API rejects for good (4xx
other than 408/429) is kept, marked ``rejected``, and skipped.

The same file keeps the :class:`Ledger` of incident keys and their last ``seq`` per place, so
that a restarted pipeline continues a recent incident under its key instead of opening another.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    annotated BLOB,
    raw BLOB,
    created REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT NOT NULL DEFAULT '',
    UNIQUE (key, seq)
);
CREATE TABLE IF NOT EXISTS ledger (
    place TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    last_seen REAL NOT NULL
);
"""


@dataclass
class Message:
    id: int
    key: str
    seq: int
    payload: dict
    annotated: bytes | None
    raw: bytes | None
    attempts: int


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self.added = threading.Event()  # set whenever a message is written (wakes the sender)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, payload: dict, annotated: bytes | None = None, raw: bytes | None = None) -> bool:
        """Store a message; False if this (key, seq) is already stored."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO messages (key, seq, payload, annotated, raw, created) VALUES (?,?,?,?,?,?)",
                (payload["key"], int(payload["seq"]), json.dumps(payload, ensure_ascii=False), annotated, raw,
                 time.time()))
        self.added.set()
        return cur.rowcount == 1

    def head(self, now: float | None = None) -> tuple[Message | None, float]:
        """The oldest pending message if it is due, else (None, seconds until it is due)."""
        now = time.time() if now is None else now
        with self._lock:
            row = self._db.execute("SELECT id, key, seq, payload, annotated, raw, attempts, next_try FROM messages "
                                   "WHERE status = 'pending' ORDER BY id LIMIT 1").fetchone()
        if row is None:
            return None, float("inf")
        if row[7] > now:
            return None, row[7] - now
        return Message(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5], row[6]), 0.0

    def delivered(self, message_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM messages WHERE id = ?", (message_id,))

    def retry_later(self, message_id: int, error: str, delay_s: float) -> None:
        with self._lock:
            self._db.execute("UPDATE messages SET attempts = attempts + 1, next_try = ?, last_error = ? WHERE id = ?",
                             (time.time() + delay_s, error[:500], message_id))

    def reject(self, message_id: int, error: str) -> None:
        with self._lock:
            self._db.execute("UPDATE messages SET attempts = attempts + 1, status = 'rejected', last_error = ? "
                             "WHERE id = ?", (error[:2000], message_id))

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM messages GROUP BY status").fetchall()
        out = {"pending": 0, "rejected": 0}
        out.update(dict(rows))
        return out

    def rejected(self) -> list[tuple[str, int, str]]:
        with self._lock:
            return self._db.execute("SELECT key, seq, last_error FROM messages WHERE status = 'rejected' "
                                    "ORDER BY id").fetchall()

    # --- the key ledger --------------------------------------------------------
    def recall(self, place_key: str) -> tuple[str, int, float] | None:
        with self._lock:
            row = self._db.execute("SELECT key, seq, last_seen FROM ledger WHERE place = ?", (place_key,)).fetchone()
        return None if row is None else (row[0], int(row[1]), float(row[2]))

    def remember(self, place_key: str, key: str, seq: int, last_seen: float) -> None:
        with self._lock:
            self._db.execute("INSERT INTO ledger (place, key, seq, last_seen) VALUES (?,?,?,?) ON CONFLICT(place) "
                             "DO UPDATE SET key = excluded.key, seq = excluded.seq, last_seen = excluded.last_seen",
                             (place_key, key, seq, last_seen))
