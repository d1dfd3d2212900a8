"""Scope and duties (issue 15, item 7): mutes are scoped like tickets; a handler does not verify
its own department's resolution. (Admin bodies that write another object: test_bad_input.py.)"""

from __future__ import annotations

from tests.api.conftest import NW
from tests.loop.conftest import jpeg


def _muted_ticket(api, key: str, location: dict) -> int:
    t = api.incident(key=key, location=location)["ticket_id"]
    r = api.call("POST", f"/api/v1/tickets/{t}/review", "operator",
                 json={"verdict": "rejected", "reason": "not_a_problem", "mute": True})
    assert r.status_code == 200 and r.json()["mute"], r.text
    return t


def test_mutes_are_scoped_to_the_callers_department_and_grid(api):
    nw = _muted_ticket(api, "cam-01:illegal_parking:kerb:1", NW)  # traffic police, grid north-west
    everyone = {m["ticket_id"] for m in api.call("GET", "/api/v1/mutes", "operator").json()}
    assert nw in everyone
    assert {m["ticket_id"] for m in api.call("GET", "/api/v1/mutes", "handler").json()} == {nw}
    assert api.call("GET", "/api/v1/mutes", "other_handler").json() == []  # sanitation
    assert {m["ticket_id"] for m in api.call("GET", "/api/v1/mutes", "grid_officer").json()} == {nw}
    assert api.call("GET", "/api/v1/mutes", "other_grid_officer").json() == []  # grid south-east


def test_a_handler_cannot_verify_its_own_resolution_by_photo(api):
    t = api.incident()["ticket_id"]
    api.act(t, "dispatch", "dispatcher", department_id="traffic-police")
    api.act(t, "start", "handler")
    api.act(t, "resolve", "handler")
    r = api.call("POST", f"/api/v1/tickets/{t}/verify-photo", "handler",
                 files={"photo": ("grey.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 403 and "handler may not verify" in r.text, r.text
    assert api.ticket(t)["status"] == "resolved"
    api.gs.settings.handler_may_verify = True  # the setting allows it (the detector is then needed)
    r = api.call("POST", f"/api/v1/tickets/{t}/verify-photo", "handler",
                 files={"photo": ("grey.jpg", b"not an image", "image/jpeg")})
    assert r.status_code == 422
