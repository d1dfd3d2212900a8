"""An API on a temporary SQLite database with one key per role, for the interop routers' tests."""

from __future__ import annotations

import io
import json
import os
import socket
import uuid
from dataclasses import dataclass, field

import pytest

ROLES = {  # role -> (department, grid)
    "viewer": (None, None), "operator": (None, None), "dispatcher": (None, None),
    "admin": (None, None), "ingest": (None, None),
    "handler": ("traffic-police", None), "grid_officer": (None, "grid-north-west"),
}
# inside the grids of configs/dispatch.yaml
NORTH_WEST = {"lat": 31.235, "lon": 121.465, "address": "1 North-west Road"}
SOUTH_EAST = {"lat": 31.225, "lon": 121.485, "address": "9 South-east Road"}


def jpeg(color=(200, 40, 40), size=(64, 48)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@dataclass
class Api:
    client: object
    app: object
    keys: dict[str, str]
    notifier: object = None
    seq: dict = field(default_factory=dict)

    def h(self, role: str) -> dict:
        return {"X-API-Key": self.keys[role]}

    def incident(self, issue_type="illegal_parking", location=None, camera_id="cam-t", evidence: bytes | None = None,
                 key: str | None = None, **extra) -> dict:
        """Post an incident as the pipeline does; the JSON answer."""
        key = key or f"{camera_id}:{issue_type}:{uuid.uuid4().hex[:8]}"
        self.seq[key] = self.seq.get(key, 0) + 1
        body = {"key": key, "seq": self.seq[key], "event": "open", "issue_type": issue_type, "source": "camera",
                "camera_id": camera_id, "score": 0.8, "location": location,
                "detections": [{"class_name": "car", "score": 0.8, "box": [1, 2, 30, 40], "track_id": 1}], **extra}
        if evidence is None:
            r = self.client.post("/api/v1/incidents", json=body, headers=self.h("ingest"))
        else:
            r = self.client.post("/api/v1/incidents", headers=self.h("ingest"),
                                 data={"incident": json.dumps(body)},
                                 files={"evidence_annotated": ("a.jpg", evidence, "image/jpeg")})
        assert r.status_code in (200, 201), r.text
        return r.json()

    def act(self, number: str, action: str, role: str = "dispatcher", **body) -> dict:
        r = self.client.post(f"/api/v1/tickets/{number}/{action}", json=body, headers=self.h(role))
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
def detector():
    """The shipped model (models/weights), as the app loads it: people for the public image's blur."""
    from models.detector import load_detector

    return load_detector()


PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(scope="session")
def interop_pg_url():
    """A PostgreSQL database for these tests (session-wide, dropped afterwards)."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (make test starts it: scripts/services.sh)")
    from sqlalchemy import create_engine, text

    name = f"gs_interop_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def wipe_pg(url: str) -> None:
    """Empty every table of the schema (if it exists yet)."""
    from sqlalchemy import create_engine, inspect, text

    from api.db.models import Base

    engine = create_engine(url)
    try:
        present = set(inspect(engine).get_table_names())
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name in present)
        if names:
            with engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def make_api(tmp_path, store=None, database_url: str = "", **notifier_options):
    from fastapi.testclient import TestClient

    from api import push
    from api.app import create_app
    from api.auth import issue_credential
    from api.db.models import User
    from gridsight.settings import Settings

    settings = Settings(home=tmp_path, database_url=database_url, s3_endpoint="", mqtt_host="", api_key="")
    # the outbox in the ticket database, as the app's own notifier has it (events commit with the change)
    notifier = push.Notifier(settings.sqlalchemy_url, **{"retry_base_s": 0.05, **notifier_options})
    old = push.set_notifier(notifier.start())
    app = create_app(settings, store=store, escalation=False)
    client = TestClient(app)
    client.__enter__()
    gs = app.state.gs
    keys = {}
    with gs.sessions() as s:
        for role, (dept, grid) in ROLES.items():
            user = User(username=f"{role}-{uuid.uuid4().hex[:6]}", role=role, department_id=dept, grid_id=grid,
                        active=True, created_at=gs.clock.now())
            s.add(user)
            s.flush()
            keys[role] = issue_credential(s, user, gs.clock.now())[1]
        s.commit()

    def close():
        client.__exit__(None, None, None)
        push.set_notifier(old)
        notifier.close()

    return Api(client, app, keys, notifier), close


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, tmp_path):
    """The API on SQLite and on PostgreSQL (a wiped session database)."""
    url = ""
    if request.param == "postgresql":
        url = request.getfixturevalue("interop_pg_url")
        wipe_pg(url)
    a, close = make_api(tmp_path, database_url=url)
    yield a
    close()
