"""Permissions per role for every endpoint: allowed roles succeed, the others get 403, nobody
without credentials gets in (401). Plus the scopes of handlers and grid officers.

Role checks do not depend on the database, so this module runs on SQLite only (the other API
tests cover both databases).
"""

from __future__ import annotations

import itertools

import pytest

from api.auth import PERMISSIONS
from tests.api.conftest import NW, SE, USERS
from tests.api.test_incidents import jpeg

_n = itertools.count()


@pytest.fixture
def db_url(sqlite_url):
    return sqlite_url


def ticket_in(api, status: str = "new", **fields) -> int:
    """A fresh traffic-police ticket in grid-north-west, moved to ``status``."""
    tid = api.incident(key=f"perm-{next(_n)}", **fields)["ticket_id"]
    path = {"new": [], "dispatched": ["dispatch"], "in_progress": ["dispatch", "start"],
            "resolved": ["dispatch", "start", "resolve"], "verified": ["dispatch", "start", "resolve", "verify"]}
    for action in path[status]:
        api.act(tid, action)
    return tid


def _ticket_url(status: str, suffix: str = "", **body):
    def prepare(api):
        return f"/api/v1/tickets/{ticket_in(api, status)}{suffix}", ({"json": body} if body else {})
    return prepare


def _with_evidence(suffix: str):
    def prepare(api):
        key = api.gs.store.put(jpeg(), "image/jpeg")
        tid = api.incident(key=f"perm-{next(_n)}", evidence=[{"kind": "raw", "object_key": key}])["ticket_id"]
        return f"/api/v1/tickets/{tid}{suffix}", {}
    return prepare


def _fixed(url: str, **kw):
    return lambda api: (url, kw)


def _duplicate(api):
    original = ticket_in(api)
    return f"/api/v1/tickets/{ticket_in(api)}/duplicate", {"json": {"duplicate_of": str(original)}}


def _incident(api):
    return "/api/v1/incidents", {"json": {"key": f"perm-{next(_n)}", "seq": 1, "issue_type": "garbage",
                                          "location": NW}}


def _camera(api, zone: bool = False):
    cam = f"cam-p{next(_n)}"
    api.call("PUT", f"/api/v1/cameras/{cam}", "admin", json={"name": cam})
    if zone:
        api.call("PUT", f"/api/v1/cameras/{cam}/zones/z1", "admin",
                 json={"kind": "no_parking", "polygon": [[0, 0], [10, 0], [10, 10]]})
    return cam


def _user(api):
    r = api.call("POST", "/api/v1/admin/users", "admin", json={"username": f"u{next(_n)}", "role": "viewer"})
    return r.json()["id"]


def _key(api):
    return api.call("POST", "/api/v1/admin/keys", "admin", json={"user_id": api.users["viewer"]}).json()["id"]


# (method, permission, prepare(api) -> (url, request kwargs), status codes that mean "done")
ENDPOINTS = {
    "list tickets": ("GET", "tickets.read", _fixed("/api/v1/tickets"), {200}),
    "get ticket": ("GET", "tickets.read", _ticket_url("new"), {200}),
    "history": ("GET", "tickets.read", _ticket_url("new", "/history"), {200}),
    "feedback list": ("GET", "tickets.read", _ticket_url("new", "/feedback"), {200}),
    "evidence": ("GET", "tickets.read", _with_evidence("/evidence"), {200}),
    "evidence url": ("GET", "tickets.read", _with_evidence("/evidence/url"), {200}),
    "thumbnail": ("GET", "tickets.read", _with_evidence("/thumbnail?kind=crop"), {200}),
    "review queue": ("GET", "tickets.read", _fixed("/api/v1/review-queue"), {200}),
    "camera health": ("GET", "registry.read", _fixed("/api/v1/camera-health"), {200}),
    "dispatch": ("POST", "ticket.dispatch", _ticket_url("new", "/dispatch"), {200}),
    "start": ("POST", "ticket.start", _ticket_url("dispatched", "/start"), {200}),
    "resolve": ("POST", "ticket.resolve", _ticket_url("in_progress", "/resolve"), {200}),
    "verify": ("POST", "ticket.verify", _ticket_url("resolved", "/verify"), {200}),
    "close": ("POST", "ticket.close", _ticket_url("verified", "/close"), {200}),
    "reopen": ("POST", "ticket.reopen", _ticket_url("resolved", "/reopen"), {200}),
    "reject": ("POST", "ticket.reject", _ticket_url("new", "/reject", reason="false alarm"), {200}),
    "duplicate": ("POST", "ticket.duplicate", _duplicate, {200}),
    "feedback": ("POST", "ticket.feedback",
                 lambda api: (f"/api/v1/tickets/{ticket_in(api)}/feedback", {"data": {"note": "seen"}}), {201}),
    "stats": ("GET", "stats.read", _fixed("/api/v1/stats"), {200}),
    "incidents": ("POST", "incidents.write", _incident, {201}),
    # allowed callers get past authorisation to the content check (not an image: 422)
    "detect": ("POST", "detect", _fixed("/api/v1/detect", files={"files": ("a.jpg", b"text", "image/jpeg")}), {422}),
    "cameras": ("GET", "registry.read", _fixed("/api/v1/cameras"), {200}),
    "camera": ("GET", "registry.read", lambda api: (f"/api/v1/cameras/{_camera(api)}", {}), {200}),
    "zones": ("GET", "registry.read", lambda api: (f"/api/v1/cameras/{_camera(api, True)}/zones", {}), {200}),
    "issue types": ("GET", "registry.read", _fixed("/api/v1/issue-types"), {200}),
    "grids": ("GET", "registry.read", _fixed("/api/v1/grids"), {200}),
    "grid": ("GET", "registry.read", _fixed("/api/v1/grids/grid-north-west"), {200}),
    "departments": ("GET", "registry.read", _fixed("/api/v1/departments"), {200}),
    "put camera": ("PUT", "admin", lambda api: (f"/api/v1/cameras/c{next(_n)}", {"json": {"name": "x"}}), {200}),
    "delete camera": ("DELETE", "admin", lambda api: (f"/api/v1/cameras/{_camera(api)}", {}), {204}),
    "put zone": ("PUT", "admin", lambda api: (f"/api/v1/cameras/{_camera(api)}/zones/z", {
        "json": {"kind": "sidewalk", "polygon": [[0, 0], [1, 0], [1, 1]]}}), {200}),
    "delete zone": ("DELETE", "admin", lambda api: (f"/api/v1/cameras/{_camera(api, True)}/zones/z1", {}), {204}),
    "put grid": ("PUT", "admin", lambda api: (f"/api/v1/grids/g{next(_n)}", {
        "json": {"name": "g", "polygon": [[0, 0], [0, 1], [1, 1]]}}), {200}),
    "delete grid": ("DELETE", "admin", _fixed("/api/v1/grids/grid-south-west"), {204}),
    "put department": ("PUT", "admin", _fixed("/api/v1/departments/parks", json={"name_en": "Parks"}), {200}),
    "delete department": ("DELETE", "admin", lambda api: (
        api.call("PUT", "/api/v1/departments/tmp", "admin", json={"name_en": "Tmp"}) and "/api/v1/departments/tmp",
        {}), {204}),
    "users": ("GET", "admin", _fixed("/api/v1/admin/users"), {200}),
    "create user": ("POST", "admin", lambda api: ("/api/v1/admin/users", {
        "json": {"username": f"new{next(_n)}", "role": "viewer"}}), {201}),
    "user": ("GET", "admin", lambda api: (f"/api/v1/admin/users/{_user(api)}", {}), {200}),
    "patch user": ("PATCH", "admin", lambda api: (f"/api/v1/admin/users/{_user(api)}",
                                                  {"json": {"display_name": "Z"}}), {200}),
    "keys": ("GET", "admin", _fixed("/api/v1/admin/keys"), {200}),
    "create key": ("POST", "admin", lambda api: ("/api/v1/admin/keys", {"json": {"user_id": api.users["viewer"]}}),
                   {201}),
    "revoke key": ("DELETE", "admin", lambda api: (f"/api/v1/admin/keys/{_key(api)}", {}), {204}),
    "escalate": ("POST", "escalate", _fixed("/api/v1/admin/escalate"), {200}),
    # archive jobs (Redis): allowed callers reach the job store or the body check
    "jobs": ("GET", "jobs.read", _fixed("/api/v1/jobs"), {200}),
    "job": ("GET", "jobs.read", _fixed("/api/v1/jobs/nope"), {404}),
    "submit job": ("POST", "jobs.write", _fixed("/api/v1/jobs", json={"camera_id": "c"}), {422}),
    "cancel job": ("POST", "jobs.write", _fixed("/api/v1/jobs/nope/cancel"), {404}),
}


def test_the_table_covers_every_route(api):
    """Every route of the core routers is in ENDPOINTS (a new route must be added to the table)."""
    import importlib

    from api.app import ROUTERS

    mine = {(m, r.path) for name in ROUTERS for r in importlib.import_module(f"api.routers.{name}").router.routes
            for m in getattr(r, "methods", ()) if r.path.startswith("/api/v1/") and m not in ("HEAD", "OPTIONS")}
    exempt = {("POST", "/api/v1/auth/token"), ("GET", "/api/v1/auth/me")}  # open, and any credentials
    covered = set()
    for name, (method, _, prepare, _) in ENDPOINTS.items():
        url, _ = prepare(api)
        for m, path in mine:
            if m == method and _matches(path, url):
                covered.add((m, path))
    assert len(mine) > 30
    assert mine - covered - exempt == set()


def _matches(template: str, url: str) -> bool:
    a, b = template.strip("/").split("/"), url.split("?")[0].strip("/").split("/")
    return len(a) == len(b) and all(x == y or x.startswith("{") for x, y in zip(a, b))


@pytest.mark.parametrize("name", list(ENDPOINTS))
def test_roles_per_endpoint(api, name):
    method, permission, prepare, ok = ENDPOINTS[name]
    allowed = PERMISSIONS[permission]
    url, kw = prepare(api)
    assert api.call(method, url, **kw).status_code == 401  # no credentials
    for user, (role, _, _) in USERS.items():
        if user.startswith("other_"):
            continue
        url, kw = prepare(api)  # fresh state for each caller
        r = api.call(method, url, user, **kw)
        if role in allowed:
            assert r.status_code in ok, f"{role} {method} {url}: {r.status_code} {r.text}"
        else:
            assert r.status_code == 403, f"{role} {method} {url}: {r.status_code} {r.text}"
            assert permission in r.json()["detail"]


def test_handlers_act_on_their_department_only(api):
    mine = ticket_in(api, "dispatched")  # illegal parking: traffic-police
    theirs = api.incident(key="garbage-1", issue_type="garbage")["ticket_id"]  # sanitation
    api.act(theirs, "dispatch")
    assert api.act(mine, "start", "handler")["status"] == "in_progress"
    r = api.call("POST", f"/api/v1/tickets/{theirs}/start", "handler")
    assert r.status_code == 403 and "department" in r.json()["detail"]
    assert api.call("GET", f"/api/v1/tickets/{theirs}", "handler").status_code == 403
    assert api.act(theirs, "start", "other_handler")["status"] == "in_progress"
    listed = api.call("GET", "/api/v1/tickets", "handler").json()
    assert {t["id"] for t in listed["items"]} == {mine} and listed["total"] == 1
    stats = api.call("GET", "/api/v1/stats", "other_handler").json()
    assert stats["total"] == 1 and stats["by_department"] == {"sanitation": 1}


def test_grid_officers_act_on_their_grid_only(api):
    here = ticket_in(api, "resolved")  # grid-north-west
    there = api.incident(key="se-1", location=SE)["ticket_id"]
    for action in ("dispatch", "start", "resolve"):
        api.act(there, action)
    assert api.act(here, "verify", "grid_officer")["status"] == "verified"
    r = api.call("POST", f"/api/v1/tickets/{there}/verify", "grid_officer")
    assert r.status_code == 403 and "grid" in r.json()["detail"]
    assert api.act(there, "reopen", "other_grid_officer")["status"] == "reopened"
    listed = api.call("GET", "/api/v1/tickets", "grid_officer").json()
    assert [t["id"] for t in listed["items"]] == [here]
