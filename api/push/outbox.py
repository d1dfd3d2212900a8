"""The push outbox: webhook subscriptions, events waiting to go out, and the delivery log.

The tables (``push_subscriptions``, ``push_events``, ``push_deliveries``; see
:mod:`api.db.push`) live in the ticket database. The service layer writes a ticket change's
events with :meth:`Outbox.add_event` on the request's own connection, inside its transaction,
so an event exists exactly when the change it reports was committed. A delivery leaves the
``pending`` state only when the receiver acknowledged it (webhook 2xx, MQTT PUBACK), which
makes push at-least-once across crashes and restarts. Every API host's notifier works the same
queue: :meth:`Outbox.claim_due` leases a delivery to one host, and one target's deliveries to
one host at a time (in order).

An ``Outbox`` can also stand alone on a SQLite file of its own (``Outbox(path)``, tables
created on open), for a notifier without a ticket database. Before migration 0004 every API host
kept its outbox in such a file (``$GRIDSIGHT_HOME/push.db``); :meth:`Outbox.import_file` moves
one into the ticket database.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, case, delete, exists, func, insert, select, text, update

from api.db.push import PushDelivery, PushEvent, PushSubscription

SUBS, EVENTS, DELIVERIES = PushSubscription.__table__, PushEvent.__table__, PushDelivery.__table__
log = logging.getLogger("gridsight.push")
CLAIM_LOCK = 0x6773_7075_7368  # PostgreSQL advisory lock key of the delivery claim ("gspush")
IMPORT_LOCK = CLAIM_LOCK + 1  # ... and of moving a pre-0004 outbox file in


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


def durable(conn: Connection) -> None:
    """This transaction waits for the WAL flush even on an engine that does not (PostgreSQL
    ``synchronous_commit``): what a caller was told is stored must survive a database crash.
    Only the delivery bookkeeping (claims, acknowledgements, retries) may be lost and redone."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL synchronous_commit TO on"))


class Outbox:
    """The push tables of one database (thread-safe: each call takes a pooled connection)."""

    def __init__(self, store: Engine | str | Path):
        """``store``: an engine (the caller's; not closed here), a database URL (the ticket
        database, migrated: a 2-connection pool of its own whose commits do not wait for the WAL
        flush on PostgreSQL, see :func:`durable`), or a file path (a SQLite file of its own,
        tables created on open)."""
        from api.db.engine import make_engine

        self._own = not isinstance(store, Engine)
        if isinstance(store, Engine):
            self.engine = store
        elif isinstance(store, str) and "://" in store:
            self.engine = make_engine(store, pool_size=2, async_commit=True)
        else:
            self.engine = make_engine(f"sqlite:///{Path(store)}", pool_size=4)
            SUBS.metadata.create_all(self.engine, tables=[SUBS, EVENTS, DELIVERIES])

    def close(self) -> None:
        if self._own:
            self.engine.dispose()

    def same_database(self, engine: Engine) -> bool:
        """Whether ``engine`` reaches the database these tables are in (so a ticket change's
        transaction can write its events here)."""
        return engine is self.engine or (
            engine.url.render_as_string(hide_password=False)
            == self.engine.url.render_as_string(hide_password=False))

    # --- subscriptions ----------------------------------------------------------------------
    def add_subscription(self, url: str, secret: str, events: tuple[str, ...] = ()) -> Subscription:
        with self.engine.begin() as conn:
            durable(conn)
            sub_id = conn.execute(insert(SUBS).values(
                url=url, secret=secret, events=",".join(events), active=True, created_at=time.time())
            ).inserted_primary_key[0]
        return Subscription(sub_id, url, secret, tuple(events))

    def remove_subscription(self, sub_id: int) -> bool:
        """Deactivate (pending deliveries to it are dropped as failed); False if unknown."""
        with self.engine.begin() as conn:
            durable(conn)
            n = conn.execute(update(SUBS).where(SUBS.c.id == sub_id, SUBS.c.active.is_(True))
                             .values(active=False)).rowcount
            conn.execute(update(DELIVERIES).where(DELIVERIES.c.subscription_id == sub_id,
                                                  DELIVERIES.c.state == "pending")
                         .values(state="failed", last_error="subscription removed"))
        return n > 0

    def subscriptions(self, active_only: bool = True, conn: Connection | None = None) -> list[Subscription]:
        """On ``conn`` when given (a caller's open transaction: on SQLite a second connection
        would wait for that transaction's write lock)."""
        q = select(SUBS.c.id, SUBS.c.url, SUBS.c.secret, SUBS.c.events, SUBS.c.active).order_by(SUBS.c.id)
        if active_only:
            q = q.where(SUBS.c.active.is_(True))
        if conn is not None:
            rows = conn.execute(q).all()
        else:
            with self.engine.connect() as own:
                rows = own.execute(q).all()
        return [Subscription(r[0], r[1], r[2], tuple(e for e in r[3].split(",") if e), bool(r[4]))
                for r in rows]

    # --- events and deliveries ----------------------------------------------------------------
    def add_event(self, event_id: str, name: str, number: str, topic: str, body: bytes,
                  targets: list[tuple[str, int | None]], conn: Connection | None = None) -> None:
        """Store an event and one pending delivery per ``(target, subscription_id)``; on
        ``conn`` (inside the caller's transaction, committed with it) or in a transaction of its own."""
        if conn is None:
            with self.engine.begin() as own:
                durable(own)
                return self.add_event(event_id, name, number, topic, body, targets, own)
        now = time.time()
        conn.execute(insert(EVENTS).values(id=event_id, name=name, number=number, topic=topic, body=body,
                                           created_at=now))
        conn.execute(insert(DELIVERIES), [
            {"event_id": event_id, "target": t, "subscription_id": s, "state": "pending", "attempts": 0,
             "next_at": now, "created_at": now} for t, s in targets])

    def claim_due(self, limit: int, lease_s: float) -> list[Delivery]:
        """Pending deliveries that are due, leased for ``lease_s`` so no other sender (this
        host's or another's) sends them meanwhile. A target (the broker, or one subscription)
        that another sender holds a lease on is skipped, so one target's deliveries go out one
        after another, in order, whichever hosts run. Claims are serialised across hosts (an
        advisory lock on PostgreSQL, the write lock on SQLite), so each sees the others' leases."""
        now = time.time()
        d, e = DELIVERIES, EVENTS
        q = (select(d.c.id, d.c.event_id, d.c.target, d.c.subscription_id, e.c.topic, e.c.body, d.c.attempts)
             .join(e, e.c.id == d.c.event_id)
             .where(d.c.state == "pending", d.c.next_at <= now,
                    (d.c.claimed_until.is_(None)) | (d.c.claimed_until < now))
             .order_by(d.c.next_at, d.c.id).limit(limit))
        held = (select(d.c.target, d.c.subscription_id).distinct()
                .where(d.c.state == "pending", d.c.claimed_until >= now))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK})
            for target, sub_id in conn.execute(held).all():  # the targets other senders hold: a few
                q = q.where(~((d.c.target == target) & d.c.subscription_id.is_not_distinct_from(sub_id)))
            rows = conn.execute(q).all()
            if rows:
                conn.execute(update(d).where(d.c.id.in_([r[0] for r in rows])).values(claimed_until=now + lease_s))
        return [Delivery(*r) for r in rows]

    def mark_delivered(self, acknowledged: list[tuple[int, int | None]]) -> None:
        """Record deliveries as acknowledged, ``(delivery id, status)`` each, in one transaction."""
        if not acknowledged:
            return
        d = DELIVERIES
        now = time.time()
        by_status: dict[int | None, list[int]] = {}
        for delivery_id, status in acknowledged:
            by_status.setdefault(status, []).append(delivery_id)
        with self.engine.begin() as conn:
            for status, ids in by_status.items():
                conn.execute(update(d).where(d.c.id.in_(ids)).values(
                    state="delivered", attempts=d.c.attempts + 1, last_status=status, last_error=None,
                    delivered_at=now, claimed_until=None))

    def mark_retry(self, delivery_id: int, status: int | None, error: str, next_at: float | None) -> None:
        """Record a failed attempt; ``next_at`` None gives up (state ``failed``)."""
        d = DELIVERIES
        values = dict(state="pending" if next_at is not None else "failed", attempts=d.c.attempts + 1,
                      last_status=status, last_error=error[:500], claimed_until=None)
        if next_at is not None:
            values["next_at"] = next_at
        with self.engine.begin() as conn:
            conn.execute(update(d).where(d.c.id == delivery_id).values(**values))

    def next_due_in(self) -> float | None:
        """Seconds until the next pending delivery is due (0 if one is due now); None if none."""
        d = DELIVERIES
        due = case((d.c.claimed_until > d.c.next_at, d.c.claimed_until), else_=d.c.next_at)
        with self.engine.connect() as conn:
            at = conn.execute(select(func.min(due)).where(d.c.state == "pending")).scalar()
        return None if at is None else max(0.0, at - time.time())

    def counts(self) -> dict[str, int]:
        """Deliveries by state."""
        d = DELIVERIES
        with self.engine.connect() as conn:
            return dict(conn.execute(select(d.c.state, func.count()).group_by(d.c.state)).all())

    def log(self, limit: int = 100, event_id: str | None = None, state: str | None = None) -> list[dict]:
        """The delivery log, newest first (optionally one event's, or one state's)."""
        d, e = DELIVERIES, EVENTS
        q = (select(d.c.id, d.c.event_id, e.c.name.label("event"), e.c.number, e.c.topic, d.c.target,
                    d.c.subscription_id, d.c.state, d.c.attempts, d.c.last_status, d.c.last_error,
                    d.c.created_at, d.c.delivered_at)
             .join(e, e.c.id == d.c.event_id).order_by(d.c.id.desc()).limit(limit))
        if event_id:
            q = q.where(d.c.event_id == event_id)
        if state:
            q = q.where(d.c.state == state)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def prune(self, older_than_s: float) -> int:
        """Forget events whose deliveries are all finished and older than ``older_than_s``."""
        cutoff = time.time() - older_than_s
        d, e = DELIVERIES, EVENTS
        pending = exists().where(d.c.event_id == e.c.id, d.c.state == "pending")
        with self.engine.begin() as conn:
            old = select(e.c.id).where(e.c.created_at < cutoff, ~pending).scalar_subquery()
            conn.execute(delete(d).where(d.c.event_id.in_(old)))
            return conn.execute(delete(e).where(e.c.created_at < cutoff, ~pending)).rowcount

    # --- the per-host file of earlier versions ------------------------------------------------
    def import_file(self, path: str | Path) -> dict[str, int] | None:
        """Move an outbox file (``$GRIDSIGHT_HOME/push.db`` of a version before migration 0004)
        into these tables, in one transaction: its subscriptions (one already here with the same
        URL, secret and events is reused, so several hosts' files merge), its events not here yet,
        and their deliveries with their state, attempts and schedule, so pending ones go out and
        the log keeps the rest. The file is then renamed ``push.db.imported``; on an error nothing
        is written and the file stays for the next start. Returns the counts, None without a file."""
        path = Path(path)
        if not path.is_file():
            return None
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            subs = src.execute("SELECT id, url, secret, events, active, created_at FROM subscriptions").fetchall()
            events = src.execute("SELECT id, name, number, topic, body, created_at FROM events").fetchall()
            deliveries = src.execute(
                "SELECT event_id, target, subscription_id, state, attempts, next_at, last_status, last_error, "
                "created_at, delivered_at FROM deliveries ORDER BY id").fetchall()
        finally:
            src.close()
        with self.engine.begin() as conn:
            durable(conn)  # the file is renamed after this commit
            if conn.dialect.name == "postgresql":  # hosts starting together merge one after another
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": IMPORT_LOCK})
            ids: dict[int, int] = {}
            for sid, url, secret, names, active, created in subs:
                same = conn.execute(select(SUBS.c.id).where(
                    SUBS.c.url == url, SUBS.c.secret == secret, SUBS.c.events == names,
                    SUBS.c.active.is_(bool(active)))).scalar()
                ids[sid] = same if same is not None else conn.execute(insert(SUBS).values(
                    url=url, secret=secret, events=names, active=bool(active), created_at=created)
                ).inserted_primary_key[0]
            have = set(conn.execute(select(EVENTS.c.id)).scalars()) if events else set()
            new = [e for e in events if e[0] not in have]
            if new:
                conn.execute(insert(EVENTS), [dict(id=e[0], name=e[1], number=e[2], topic=e[3], body=bytes(e[4]),
                                                   created_at=e[5]) for e in new])
            new_ids = {e[0] for e in new}
            moved = [dict(event_id=d[0], target=d[1], subscription_id=ids.get(d[2]) if d[2] is not None else None,
                          state=d[3], attempts=d[4], next_at=d[5], last_status=d[6], last_error=d[7],
                          created_at=d[8], delivered_at=d[9]) for d in deliveries if d[0] in new_ids]
            if moved:
                conn.execute(insert(DELIVERIES), moved)
        path.rename(path.with_name(path.name + ".imported"))
        counts = {"subscriptions": len(subs), "events": len(new),
                  "pending": sum(1 for d in moved if d["state"] == "pending")}
        log.info("push outbox file %s moved into the ticket database: %s", path, counts)
        return counts
