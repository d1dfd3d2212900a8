"""No internal addresses or error text to strangers (issue 15, item 8)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from api.storage.objects import LocalStore
from gridsight.settings import get_settings
from tests.api.conftest import make_settings

DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"


def test_readyz_says_ok_or_error_per_component_and_nothing_more(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    app = create_app(make_settings(DOWN, tmp_path), store=LocalStore(blocker / "evidence"), escalation=False)
    r = TestClient(app).get("/readyz")  # no lifespan: the database is down
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": "error", "object_store": "error"}
    assert "127.0.0.1" not in r.text and "Error" not in r.text and str(blocker) not in r.text


def test_readyz_details_are_for_admins(api):
    assert "errors" not in api.client.get("/readyz").json()
    assert "errors" not in api.call("GET", "/readyz", "operator").json()
    r = api.call("GET", "/readyz", "admin")
    assert r.status_code == 200 and r.json()["errors"] == {}


def test_the_jobs_503_does_not_name_the_redis_host(api, monkeypatch):
    monkeypatch.setenv("GRIDSIGHT_REDIS_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    try:
        r = api.call("GET", "/api/v1/jobs", "admin")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert r.status_code == 503 and "127.0.0.1" not in r.text and ":1" not in r.text, r.text
