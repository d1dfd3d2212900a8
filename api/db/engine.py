"""Engines and sessions for SQLite (WAL, the embedded default) and PostgreSQL (psycopg 3).

SQLite: WAL journal, foreign keys on, a 30 s busy timeout, and every transaction opened with
``BEGIN IMMEDIATE`` so concurrent writers queue on the lock instead of failing on upgrade, except
on :func:`reader` engines: their ``BEGIN`` is deferred, a WAL snapshot that never takes the write
lock. A read must not hold that lock: a request's session stays open past its endpoint's thread
(response validation, then the close, each wait for a worker thread), and requests whose threads
wait for the lock would leave its holder no thread to finish on until the busy timeout.
PostgreSQL: a connection pool sized for the API's thread pool. Both hide statement parameters
in errors and logs (a camera's stream URL carries credentials).
"""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def _json_dumps(value) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# Connections beyond the pool for work outside the request threads (SLA loop, start-up): the
# request threads themselves never need more than the pool (app.py bounds them to its size).
OVERFLOW = 4
# JSON columns (detections, evidence, history data) through orjson: a ticket page decodes 100 of them.
JSON_CODEC = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 here."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, pool_size: int = 10, *, async_commit: bool = False) -> Engine:
    """An engine for ``url``. ``async_commit`` (PostgreSQL): every transaction commits with
    ``synchronous_commit = off``, i.e. without waiting for the WAL flush. Only for idempotent,
    re-sent writes (incident messages): a database server crash may lose the last fraction of a
    second of them, never consistency, and the next message of the same key restores the ticket."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # No overflow limit: a request's session keeps its connection past its endpoint's thread,
        # so a capped pool lets threads waiting for a connection starve the requests holding them
        # (30 s, then a pool timeout). A connection to a local file costs a file handle.
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               pool_size=pool_size, max_overflow=-1, hide_parameters=True, **JSON_CODEC)
        _sqlite_setup(engine)
        return engine
    # No pre-ping (a round trip per request): after a server restart SQLAlchemy sees the first
    # disconnect error and drops the whole pool, so one request fails, not every stale connection.
    connect_args = {"options": "-c synchronous_commit=off"} if async_commit else {}
    return create_engine(url, pool_size=pool_size, max_overflow=OVERFLOW, pool_recycle=3600,
                         connect_args=connect_args, hide_parameters=True, **JSON_CODEC)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READER) else "BEGIN IMMEDIATE")


_READER = "gridsight_reader"


def reader(engine: Engine) -> Engine:
    """``engine`` for read-only work: on SQLite its transactions never take the write lock (a
    write in one may fail at once with "database is locked" instead of waiting; use ``engine``)."""
    return engine.execution_options(**{_READER: True})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)
