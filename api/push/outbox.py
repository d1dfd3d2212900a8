"""The push outbox: webhook subscriptions, events waiting to go out, and the delivery log.

A small SQLite database (WAL) of its own, ``$GRIDSIGHT_HOME/push.db`` by default, so pushing
never touches the ticket database's schema or transactions. An event is written here before
:func:`api.push.publish_ticket_event` returns; a delivery leaves the table's ``pending`` state
only when the receiver acknowledged it (webhook 2xx, MQTT PUBACK), which is what makes push
at-least-once across crashes and restarts.

Tables:

* ``subscriptions``: ``id, url, secret, events`` (comma-separated event names, empty = all),
  ``active, created_at``.
* ``events``: ``id`` (uuid, also sent to receivers for de-duplication), ``name``, ``number``,
  ``topic``, ``body`` (the JSON bytes, signed as is), ``created_at``.
* ``deliveries``: one per event and target (``mqtt`` or a subscription): ``state``
  (``pending`` / ``delivered`` / ``failed``), ``attempts``, ``next_at``, ``claimed_until``,
  ``last_status``, ``last_error``, ``delivered_at``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, number TEXT NOT NULL, topic TEXT NOT NULL,
    body BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    target TEXT NOT NULL, subscription_id INTEGER, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, claimed_until REAL,
    last_status INTEGER, last_error TEXT, created_at REAL NOT NULL, delivered_at REAL);
CREATE INDEX IF NOT EXISTS ix_deliveries_due ON deliveries (state, next_at);
CREATE INDEX IF NOT EXISTS ix_deliveries_event ON deliveries (event_id);
"""


@dataclass(frozen=True)
class Subscription:
    id: int
    url: str
    secret: str
    events: tuple[str, ...]  # empty: every event
    active: bool = True

    def wants(self, event_name: str) -> bool:
        return self.active and (not self.events or event_name in self.events)


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    target: str  # "mqtt" or "webhook"
    subscription_id: int | None
    topic: str
    body: bytes
    attempts: int


class Outbox:
    """Thread-safe access to the push database (one connection, one lock)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _tx(self, fn):
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return out

    # --- subscriptions ----------------------------------------------------------------------
    def add_subscription(self, url: str, secret: str, events: tuple[str, ...] = ()) -> Subscription:
        def add(db):
            cur = db.execute("INSERT INTO subscriptions (url, secret, events, created_at) VALUES (?,?,?,?)",
                             (url, secret, ",".join(events), time.time()))
            return Subscription(cur.lastrowid, url, secret, tuple(events))
        return self._tx(add)

    def remove_subscription(self, sub_id: int) -> bool:
        """Deactivate (pending deliveries to it are dropped as failed); False if unknown."""
        def remove(db):
            n = db.execute("UPDATE subscriptions SET active=0 WHERE id=? AND active=1", (sub_id,)).rowcount
            db.execute("UPDATE deliveries SET state='failed', last_error='subscription removed' "
                       "WHERE subscription_id=? AND state='pending'", (sub_id,))
            return n > 0
        return self._tx(remove)

    def subscriptions(self, active_only: bool = True) -> list[Subscription]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, url, secret, events, active FROM subscriptions"
                + (" WHERE active=1" if active_only else "") + " ORDER BY id").fetchall()
        return [Subscription(r[0], r[1], r[2], tuple(e for e in r[3].split(",") if e), bool(r[4]))
                for r in rows]

    # --- events and deliveries ----------------------------------------------------------------
    def add_event(self, event_id: str, name: str, number: str, topic: str, body: bytes,
                  targets: list[tuple[str, int | None]]) -> None:
        """Store an event and one pending delivery per ``(target, subscription_id)``."""
        now = time.time()

        def add(db):
            db.execute("INSERT INTO events (id, name, number, topic, body, created_at) VALUES (?,?,?,?,?,?)",
                       (event_id, name, number, topic, body, now))
            db.executemany("INSERT INTO deliveries (event_id, target, subscription_id, next_at, created_at) "
                           "VALUES (?,?,?,?,?)", [(event_id, t, s, now, now) for t, s in targets])
        self._tx(add)

    def claim_due(self, limit: int, lease_s: float) -> list[Delivery]:
        """Pending deliveries that are due, leased for ``lease_s`` so no other worker sends them."""
        now = time.time()

        def claim(db):
            rows = db.execute(
                "SELECT d.id, d.event_id, d.target, d.subscription_id, e.topic, e.body, d.attempts "
                "FROM deliveries d JOIN events e ON e.id = d.event_id "
                "WHERE d.state='pending' AND d.next_at <= ? AND (d.claimed_until IS NULL OR d.claimed_until < ?) "
                "ORDER BY d.next_at, d.id LIMIT ?", (now, now, limit)).fetchall()
            db.executemany("UPDATE deliveries SET claimed_until=? WHERE id=?",
                           [(now + lease_s, r[0]) for r in rows])
            return [Delivery(*r) for r in rows]
        return self._tx(claim)

    def mark_delivered(self, delivery_id: int, status: int | None) -> None:
        self._tx(lambda db: db.execute(
            "UPDATE deliveries SET state='delivered', attempts=attempts+1, last_status=?, "
            "last_error=NULL, delivered_at=?, claimed_until=NULL WHERE id=?",
            (status, time.time(), delivery_id)))

    def mark_retry(self, delivery_id: int, status: int | None, error: str, next_at: float | None) -> None:
        """Record a failed attempt; ``next_at`` None gives up (state ``failed``)."""
        state = "pending" if next_at is not None else "failed"
        self._tx(lambda db: db.execute(
            "UPDATE deliveries SET state=?, attempts=attempts+1, last_status=?, last_error=?, "
            "next_at=COALESCE(?, next_at), claimed_until=NULL WHERE id=?",
            (state, status, error[:500], next_at, delivery_id)))

    def next_due_in(self) -> float | None:
        """Seconds until the next pending delivery is due (0 if one is due now); None if none."""
        with self._lock:
            row = self._db.execute("SELECT MIN(MAX(next_at, COALESCE(claimed_until, 0))) FROM deliveries "
                                   "WHERE state='pending'").fetchone()
        return None if row[0] is None else max(0.0, row[0] - time.time())

    def counts(self) -> dict[str, int]:
        """Deliveries by state."""
        with self._lock:
            return dict(self._db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall())

    def log(self, limit: int = 100, event_id: str | None = None, state: str | None = None) -> list[dict]:
        """The delivery log, newest first (optionally one event's, or one state's)."""
        sql = ("SELECT d.id, d.event_id, e.name, e.number, e.topic, d.target, d.subscription_id, d.state, "
               "d.attempts, d.last_status, d.last_error, d.created_at, d.delivered_at "
               "FROM deliveries d JOIN events e ON e.id = d.event_id")
        where, args = [], []
        if event_id:
            where.append("d.event_id=?")
            args.append(event_id)
        if state:
            where.append("d.state=?")
            args.append(state)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY d.id DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ("id", "event_id", "event", "number", "topic", "target", "subscription_id", "state",
                "attempts", "last_status", "last_error", "created_at", "delivered_at")
        return [dict(zip(keys, r)) for r in rows]

    def prune(self, older_than_s: float) -> int:
        """Forget events whose deliveries are all finished and older than ``older_than_s``."""
        cutoff = time.time() - older_than_s

        def prune(db):
            return db.execute(
                "DELETE FROM events WHERE created_at < ? AND NOT EXISTS (SELECT 1 FROM deliveries d "
                "WHERE d.event_id = events.id AND d.state='pending')", (cutoff,)).rowcount
        return self._tx(prune)
