"""Fixtures of the ticket API tests: both databases, an app with a manual clock, a key per role.

Every test that takes ``api`` runs twice: on SQLite (WAL, a file in a temporary folder) and on
the real PostgreSQL at 127.0.0.1:5432 (a database made for this test session, dropped after).
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from api.app import create_app
from api.auth import issue_credential
from api.db.models import Base, User
from api.services.clock import ManualClock
from api.storage.objects import LocalStore
from gridsight.paths import CONFIGS_DIR
from gridsight.settings import Settings

PG_ADMIN_URL = os.environ.get("GRIDSIGHT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)  # a Monday morning
ROLES = ("viewer", "operator", "dispatcher", "handler", "grid_officer", "admin", "ingest")
# users: name -> (role, department, grid)
USERS = {
    "viewer": ("viewer", None, None),
    "operator": ("operator", None, None),
    "dispatcher": ("dispatcher", None, None),
    "handler": ("handler", "traffic-police", None),
    "grid_officer": ("grid_officer", None, "grid-north-west"),
    "admin": ("admin", None, None),
    "ingest": ("ingest", None, None),
    "other_handler": ("handler", "sanitation", None),
    "other_grid_officer": ("grid_officer", None, "grid-south-east"),
}
# Inside grid-north-west (configs/dispatch.yaml), and inside grid-south-east.
NW = {"lat": 31.235, "lon": 121.465, "address": "1 North-west Rd"}
SE = {"lat": 31.225, "lon": 121.485, "address": "9 South-east Rd"}


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def fresh_pg_database(prefix: str):
    """A new, empty PostgreSQL database (its URL), dropped afterwards."""
    from sqlalchemy import create_engine

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def pg_database(prefix: str):
    """:func:`fresh_pg_database`, or the test skipped with the reason when PostgreSQL is not running."""
    if not _pg_reachable():
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (make test starts it: scripts/services.sh)")
    with fresh_pg_database(prefix) as url:
        yield url


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    with pg_database("gs_api_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'gridsight.db'}"


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def wipe(engine, attempts: int = 5) -> None:
    """Empty every table (the schema stays).

    On PostgreSQL, TRUNCATE takes exclusive locks table by table while the app's own background
    threads (escalation, push) may be reading: the server then breaks the deadlock by aborting one
    side. When that side is ours, the wipe is simply tried again.
    """
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            return _wipe_once(engine)
        except OperationalError as e:
            if "deadlock" not in str(e).lower() or attempt == attempts - 1:
                raise


def _wipe_once(engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for t in reversed(Base.metadata.sorted_tables):
                conn.execute(t.delete())
            conn.execute(text("DELETE FROM sqlite_sequence")) if _has_sqlite_sequence(conn) else None


def _has_sqlite_sequence(conn) -> bool:
    return conn.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


@dataclass
class Api:
    """A running app (TestClient) with a manual clock and one API key per user of :data:`USERS`."""

    client: TestClient
    clock: ManualClock
    app: object
    keys: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)

    @property
    def gs(self):
        return self.app.state.gs

    def h(self, user: str) -> dict:
        return {"X-API-Key": self.keys[user]}

    def call(self, method: str, url: str, user: str | None = None, **kw):
        headers = {**(self.h(user) if user else {}), **kw.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kw)

    def incident(self, key: str = "cam-01:illegal_parking:kerb:1", seq: int = 1, **fields) -> dict:
        body = {"key": key, "seq": seq, "event": "open", "issue_type": "illegal_parking", "source": "camera",
                "camera_id": "cam-01", "zone_id": "kerb", "score": 0.8,
                "first_seen": self.clock.now().isoformat(), "last_seen": self.clock.now().isoformat(),
                "detections": [{"class_name": "car", "score": 0.8, "box": [10, 20, 110, 220], "track_id": 3}],
                "location": NW, **fields}
        r = self.call("POST", "/api/v1/incidents", "ingest", json=body)
        assert r.status_code in (200, 201), r.text
        return r.json()

    def act(self, ticket_id: int, action: str, user: str = "admin", expect: int = 200, **body):
        r = self.call("POST", f"/api/v1/tickets/{ticket_id}/{action}", user, json=body or None)
        assert r.status_code == expect, r.text
        return r.json()

    def ticket(self, ticket_id, user: str = "admin") -> dict:
        r = self.call("GET", f"/api/v1/tickets/{ticket_id}", user)
        assert r.status_code == 200, r.text
        return r.json()


def make_settings(db_url: str, home, **kw) -> Settings:
    return Settings(home=home, database_url=db_url, configs=CONFIGS_DIR, api_key="", **kw)


def add_users(app, clock) -> tuple[dict, dict]:
    keys, ids = {}, {}
    gs = app.state.gs
    with gs.sessions() as s:
        for name, (role, dep, grid) in USERS.items():
            u = User(username=name, display_name=name, role=role, department_id=dep, grid_id=grid,
                     active=True, created_at=clock.now())
            s.add(u)
            s.flush()
            _, keys[name] = issue_credential(s, u, clock.now(), name="test")
            ids[name] = u.id
        s.commit()
    return keys, ids


_migrated: set[str] = set()


@pytest.fixture
def api(db_url, tmp_path):
    clock = ManualClock(START)
    settings = make_settings(db_url, tmp_path)
    app = create_app(settings, clock=clock, store=LocalStore(tmp_path / "evidence", secret="test"),
                     migrate=db_url not in _migrated, escalation=False)
    if db_url in _migrated:
        wipe(app.state.gs.engine)  # before start-up, which loads the registry again
    with TestClient(app) as client:
        if db_url not in _migrated:
            _migrated.add(db_url)
            wipe(app.state.gs.engine)
            from api.app import start_up

            start_up(app.state.gs, migrate=False)
        keys, ids = add_users(app, clock)
        yield Api(client, clock, app, keys, ids)


class LiveServer:
    """The app served by uvicorn on a free loopback port, in a thread (real HTTP)."""

    def __init__(self, app, lifespan: str = "off") -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan=lifespan, access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
