"""Credentials (hashed keys, OAuth2 tokens, expiry, revocation), users, and the camera registry
never giving out stream URLs."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from api.db.models import ApiKey, Camera, User


def test_keys_are_stored_hashed(api):
    with api.gs.sessions() as s:
        stored = " ".join(f"{k.secret_hash} {k.prefix}" for k in s.scalars(select(ApiKey)))
    for secret in api.keys.values():
        assert secret not in stored


def test_oauth2_password_flow_and_token_expiry(api):
    r = api.call("POST", "/api/v1/admin/users", "admin",
                 json={"username": "dana", "role": "dispatcher", "password": "correct horse battery"})
    assert r.status_code == 201 and r.json()["has_password"] is True
    with api.gs.sessions() as s:
        assert "correct horse" not in s.scalar(select(User.password_hash).where(User.username == "dana"))
    bad = api.client.post("/api/v1/auth/token", data={"username": "dana", "password": "wrong password"})
    assert bad.status_code == 401
    tok = api.client.post("/api/v1/auth/token", data={"username": "dana", "password": "correct horse battery"})
    assert tok.status_code == 200 and tok.json()["token_type"] == "bearer"
    bearer = {"Authorization": f"Bearer {tok.json()['access_token']}"}
    me = api.client.get("/api/v1/auth/me", headers=bearer).json()
    assert me["username"] == "dana" and me["role"] == "dispatcher"
    tid = api.incident()["ticket_id"]
    assert api.client.post(f"/api/v1/tickets/{tid}/dispatch", headers=bearer).status_code == 200
    api.clock.advance(timedelta(hours=8, seconds=1))
    api.gs.auth.forget_all()
    assert api.client.get("/api/v1/auth/me", headers=bearer).status_code == 401


def test_revoked_keys_and_inactive_users_stop_working(api):
    created = api.call("POST", "/api/v1/admin/keys", "admin", json={"user_id": api.users["viewer"], "name": "tmp"})
    assert created.status_code == 201
    secret, key_id = created.json()["secret"], created.json()["id"]
    assert api.client.get("/api/v1/tickets", headers={"X-API-Key": secret}).status_code == 200
    listed = api.call("GET", "/api/v1/admin/keys", "admin").json()
    assert all("secret" not in k for k in listed) and any(k["id"] == key_id for k in listed)
    assert api.call("DELETE", f"/api/v1/admin/keys/{key_id}", "admin").status_code == 204
    assert api.client.get("/api/v1/tickets", headers={"X-API-Key": secret}).status_code == 401
    r = api.call("PATCH", f"/api/v1/admin/users/{api.users['operator']}", "admin", json={"active": False})
    assert r.status_code == 200
    assert api.call("GET", "/api/v1/tickets", "operator").status_code == 401


def test_user_scope_is_validated(api):
    for body in ({"username": "h", "role": "handler"}, {"username": "g", "role": "grid_officer"},
                 {"username": "h2", "role": "handler", "department_id": "nope"},
                 {"username": "x y", "role": "viewer"}, {"username": "z", "role": "superuser"}):
        assert api.call("POST", "/api/v1/admin/users", "admin", json=body).status_code == 422, body
    assert api.call("POST", "/api/v1/admin/users", "admin", json={"username": "viewer", "role": "viewer"}
                    ).status_code == 422  # exists
    assert api.call("GET", "/api/v1/admin/users/99999", "admin").status_code == 404
    assert api.call("DELETE", "/api/v1/departments/fire-rescue", "admin").status_code == 409  # routed to


def test_camera_urls_are_never_returned_or_logged(api, caplog):
    url = "rtsp://admin:s3cret@10.1.2.3:554/stream1"
    caplog.set_level(logging.DEBUG)
    r = api.call("PUT", "/api/v1/cameras/cam-x", "admin",
                 json={"name": "X", "url": url, "location": {"lat": 31.235, "lon": 121.465},
                       "options": {"fps": 5, "password": "s3cret"}})
    assert r.status_code == 200
    api.call("PUT", "/api/v1/cameras/cam-x/zones/kerb", "admin",
             json={"kind": "no_parking", "polygon": [[0, 0], [1, 0], [1, 1]], "options": {"normalized": True}})
    for user in ("viewer", "admin"):
        for path in ("/api/v1/cameras", "/api/v1/cameras/cam-x"):
            body = api.call("GET", path, user).text
            assert "s3cret" not in body and "rtsp" not in body
    cam = api.call("GET", "/api/v1/cameras/cam-x", "viewer").json()
    assert cam["has_stream_url"] is True and cam["grid_id"] == "grid-north-west"
    assert cam["options"] == {"fps": 5} and cam["zones"][0]["options"] == {"normalized": True}
    with api.gs.sessions() as s:
        cam_row = s.get(Camera, "cam-x")
        assert cam_row.stream_url == url and "s3cret" not in repr(cam_row)
    assert "s3cret" not in caplog.text
    assert api.call("GET", "/api/v1/cameras/nope", "viewer").status_code == 404
    assert api.call("PUT", "/api/v1/cameras/bad id!", "admin", json={}).status_code in (404, 422)


def test_cameras_yaml_is_loaded_with_the_same_ids(db_url, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.storage.objects import LocalStore
    from gridsight.paths import CONFIGS_DIR
    from tests.api.conftest import make_settings, wipe

    configs = tmp_path / "configs"
    configs.mkdir()
    for name in ("issues.yaml", "dispatch.yaml"):
        shutil.copy(CONFIGS_DIR / name, configs / name)
    (configs / "cameras.yaml").write_text("""
cameras:
  - id: cam-yaml-1
    name: Market street
    url: rtsp://user:hunter2@10.0.0.1/live
    location: {lat: 31.225, lon: 121.485, address: Market St 1}
    fps: 4
    zones:
      - {id: sidewalk-a, kind: sidewalk, polygon: [[0, 0], [100, 0], [100, 50]]}
""")
    settings = make_settings(db_url, tmp_path).model_copy(update={"configs": configs})
    app = create_app(settings, store=LocalStore(tmp_path / "ev"), escalation=False)
    with TestClient(app):
        from api.app import start_up

        wipe(app.state.gs.engine)
        start_up(app.state.gs, migrate=False)
        with app.state.gs.sessions() as s:
            cam = s.get(Camera, "cam-yaml-1")
            assert cam.name == "Market street" and cam.grid_id == "grid-south-east" and cam.options == {"fps": 4}
            assert cam.stream_url.endswith("/live")


def test_database_errors_never_show_a_stream_url(api):
    """Statement parameters are hidden in database errors (and so in any log of them)."""
    import pytest
    from sqlalchemy.exc import IntegrityError

    with api.gs.sessions() as s:
        s.add(Camera(id="cam-err", name="x", stream_url="rtsp://admin:topsecret@10.9.9.9/live",
                     grid_id="no-such-grid", enabled=True, options={}))
        with pytest.raises(IntegrityError) as err:
            s.commit()
    assert "topsecret" not in str(err.value)
