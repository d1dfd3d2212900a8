"""Migrations up from an empty database (both backends) match the ORM models; health endpoints."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from api.app import create_app
from api.db.engine import make_engine
from api.db.migrate import current_revision, head_revision, upgrade
from api.db.models import Base
from api.storage.objects import LocalStore
from tests.api.conftest import fresh_pg_database, make_settings


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    request.getfixturevalue("pg_url")  # skips when PostgreSQL is absent
    with fresh_pg_database("gs_mig") as url:
        yield url


def test_migrations_from_empty_match_the_models(empty_db):
    engine = make_engine(empty_db, pool_size=1)
    try:
        assert inspect(engine).get_table_names() == []
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
        assert diff == []
        upgrade(engine)  # a second run is a no-op
        assert set(inspect(engine).get_table_names()) >= {t.name for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def test_app_start_migrates_and_cli_migrate(empty_db, tmp_path, monkeypatch):
    from gridsight.cli import main

    monkeypatch.setenv("GRIDSIGHT_DATABASE_URL", empty_db)
    monkeypatch.setenv("GRIDSIGHT_HOME", str(tmp_path))
    from gridsight.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["api", "migrate"]) == 0
    finally:
        get_settings.cache_clear()
    engine = make_engine(empty_db, pool_size=1)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_healthz_and_readyz(db_url, tmp_path):
    app = create_app(make_settings(db_url, tmp_path), store=LocalStore(tmp_path / "ev"), escalation=False)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["checks"] == {"database": "ok", "object_store": "ok"}


def test_readyz_reports_what_is_down(tmp_path):
    # nothing listens on port 1; the object store folder cannot be created under a file
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = make_settings("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2", tmp_path)
    app = create_app(settings, store=LocalStore(blocker / "evidence"), escalation=False)
    client = TestClient(app)  # no lifespan: the database is down, start-up would fail
    assert client.get("/healthz").status_code == 200
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "error", "object_store": "error"}
    assert "127.0.0.1" not in r.text and "OperationalError" not in r.text  # no internal detail without a key


def test_s3_store_through_the_api(db_url, tmp_path, request):
    """Evidence on the real S3 server (Swift s3api) when its fixture is available."""
    try:
        s3 = request.getfixturevalue("s3_server")
        bucket = request.getfixturevalue("s3_bucket")
    except pytest.FixtureLookupError:
        pytest.skip("the s3_server fixture (tests/services/swift.py) is not registered")
    from api.storage.objects import S3Store

    from tests.api.test_incidents import jpeg

    store = S3Store(s3.endpoint, s3.access_key, s3.secret_key, bucket, secure=False, region=s3.region)
    app = create_app(make_settings(db_url, tmp_path), store=store, escalation=False)
    with TestClient(app) as client:
        from tests.api.conftest import add_users, wipe
        from api.app import start_up
        from api.services.clock import Clock

        wipe(app.state.gs.engine)
        start_up(app.state.gs, migrate=False)
        keys, _ = add_users(app, Clock())
        import json

        data = jpeg()
        r = client.post("/api/v1/incidents", headers={"X-API-Key": keys["ingest"]},
                        data={"incident": json.dumps({"key": "s3", "seq": 1, "issue_type": "garbage"})},
                        files={"evidence_annotated": ("a.jpg", data, "image/jpeg")})
        assert r.status_code == 201, r.text
        tid = r.json()["ticket_id"]
        img = client.get(f"/api/v1/tickets/{tid}/evidence", headers={"X-API-Key": keys["viewer"]})
        assert img.status_code == 200 and img.content == data
        url = client.get(f"/api/v1/tickets/{tid}/evidence/url", headers={"X-API-Key": keys["viewer"]}).json()["url"]
        import httpx

        assert httpx.get(url).content == data  # presigned: no credentials needed
        assert client.get("/readyz").json()["checks"]["object_store"] == "ok"
