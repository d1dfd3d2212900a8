"""`gridsight api create-user | create-key | escalate | migrate`: what an operator types."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient

from gridsight.cli import main
from gridsight.settings import get_settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDSIGHT_HOME", str(tmp_path))
    monkeypatch.setenv("GRIDSIGHT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.delenv("GRIDSIGHT_API_KEY", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_create_key_prints_a_working_secret(env, capsys):
    assert main(["api", "create-key", "pipeline-2", "--role", "ingest", "--name", "second box"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith("gsk_") and len(secret) > 40
    assert main(["api", "create-key", "ops", "--role", "handler", "--department", "sanitation"]) == 0
    handler_key = capsys.readouterr().out.strip().splitlines()[-1]
    from api.app import create_app

    with TestClient(create_app(escalation=False)) as client:
        me = client.get("/api/v1/auth/me", headers={"X-API-Key": secret}).json()
        assert me["username"] == "pipeline-2" and me["role"] == "ingest"
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {handler_key}"}).json()
        assert me["department_id"] == "sanitation"


def test_create_user_with_password_then_log_in(env, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["api", "create-user", "dana", "--role", "dispatcher", "--password-stdin"]) == 0
    from api.app import create_app

    with TestClient(create_app(escalation=False)) as client:
        r = client.post("/api/v1/auth/token", data={"username": "dana", "password": "a long enough password"})
        assert r.status_code == 200 and r.json()["token_type"] == "bearer"


@pytest.mark.parametrize("argv, message", [
    (["api", "create-key", "nobody"], "give --role"),
    (["api", "create-key", "h", "--role", "handler"], "needs a department"),
    (["api", "create-key", "h", "--role", "handler", "--department", "nope"], "no department 'nope'"),
    (["api", "create-key", "g", "--role", "grid_officer", "--grid", "nope"], "no grid 'nope'"),
])
def test_mistakes_are_one_line_errors(env, capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_escalate_and_migrate_commands(env, capsys):
    from api.db.migrate import head_revision

    assert main(["api", "migrate"]) == 0
    assert f"database at revision {head_revision()}:" in capsys.readouterr().out
    assert main(["api", "escalate"]) == 0
    assert capsys.readouterr().out.strip() == "escalated 0 overdue tickets"


def test_bad_database_url_is_one_line(env, capsys, monkeypatch):
    monkeypatch.setenv("GRIDSIGHT_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/none?connect_timeout=2")
    get_settings.cache_clear()
    assert main(["api", "migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gridsight api: migration failed") and len(err.splitlines()) == 1
