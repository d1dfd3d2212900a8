"""Dispatch rules (type -> department, location -> grid, SLA per type and severity) and SLA
escalation with an injected clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.services.rules import DispatchRules, GridIndex, GridShape, parse_duration
from gridsight.issues import points_in_polygon
from gridsight.paths import CONFIGS_DIR
from tests.api.conftest import NW, SE


def inside(polygon, a, b) -> bool:
    return bool(points_in_polygon(polygon, [(a, b)])[0])


def test_point_in_polygon_concave_and_edges():
    # a U shape: the notch (5, 8) is outside, the arms inside
    u = [(0, 0), (10, 0), (10, 10), (7, 10), (7, 3), (3, 3), (3, 10), (0, 10)]
    assert inside(u, 1, 9) and inside(u, 9, 9) and not inside(u, 5, 8) and inside(u, 5, 1)
    assert inside(u, 0, 5) and inside(u, 10, 10) and not inside(u, -0.001, 5)


def test_grid_index_first_match_and_outside():
    idx = GridIndex([GridShape.make("a", "A", [[0, 0], [0, 1], [1, 1], [1, 0]]),
                     GridShape.make("b", "B", [[1, 0], [1, 1], [2, 1], [2, 0]])])
    assert idx.grid_at(0.5, 0.5) == "a" and idx.grid_at(1.5, 0.5) == "b"
    assert idx.grid_at(3, 3) is None and idx.grid_at(None, None) is None
    with pytest.raises(ValueError):
        GridShape.make("bad", "Bad", [[0, 0], [0, 200], [1, 1]])


def test_rules_from_the_shipped_configs():
    rules = DispatchRules.load(CONFIGS_DIR)
    assert rules.department_for("fire") == "fire-rescue" and rules.department_for("garbage") == "sanitation"
    assert rules.department_for("unheard_of") == "city-management"
    assert rules.sla_for("fire", "critical") == timedelta(minutes=30)
    assert rules.sla_for("garbage", "low") == timedelta(hours=48)
    assert rules.sla_for("illegal_parking", "medium") == timedelta(hours=24)
    assert rules.sla_for("illegal_parking", "critical") == timedelta(hours=1)
    assert rules.issue_type("smoke").name_zh == "烟雾（焚烧）"
    assert parse_duration("90s") == timedelta(seconds=90) and parse_duration(2) == timedelta(hours=2)
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_issue_types_endpoint(api):
    types = {t["key"]: t for t in api.call("GET", "/api/v1/issue-types", "viewer").json()}
    assert types["fire"] == {"key": "fire", "category_code": "0499", "name_en": "Fire", "name_zh": "火情",
                             "severity": "critical", "department_id": "fire-rescue", "auto_dispatch": True,
                             "sla_s": {"low": 259200, "medium": 86400, "high": 3600, "critical": 1800}}
    assert len(types) == 8 and types["garbage"]["sla_s"]["low"] == 48 * 3600


def test_ticket_routed_by_type_location_and_severity(api):
    t = api.ticket(api.incident(key="w", issue_type="waterlogging", location=SE)["ticket_id"])
    assert (t["department_id"], t["grid_id"], t["severity"]) == ("water-affairs", "grid-south-east", "high")
    assert t["due_at"] == "2026-03-02T12:00:00Z"  # high: 4 h
    t = api.ticket(api.incident(key="g", issue_type="garbage", severity="critical", location=NW)["ticket_id"])
    assert (t["department_id"], t["grid_id"]) == ("sanitation", "grid-north-west")
    assert t["due_at"] == "2026-03-02T09:00:00Z"  # critical default: 1 h
    t = api.ticket(api.incident(key="o", location={"lat": 40.0, "lon": 116.4})["ticket_id"])
    assert t["grid_id"] is None  # outside every grid


def test_fire_is_auto_dispatched(api):
    t = api.ticket(api.incident(key="f", issue_type="fire")["ticket_id"])
    assert t["status"] == "dispatched" and t["department_id"] == "fire-rescue"
    assert t["due_at"] == "2026-03-02T08:30:00Z"
    hist = api.call("GET", f"/api/v1/tickets/{t['id']}/history", "admin").json()
    assert [(e["actor"], e["action"]) for e in hist] == [("ingest", "created"), ("system:dispatch", "dispatch")]


def test_grid_added_by_admin_routes_new_tickets(api):
    far = {"lat": 40.0, "lon": 116.4}
    r = api.call("PUT", "/api/v1/grids/grid-far", "admin",
                 json={"name": "Far grid", "polygon": [[39.9, 116.3], [40.1, 116.3], [40.1, 116.5], [39.9, 116.5]]})
    assert r.status_code == 200, r.text
    assert api.ticket(api.incident(key="far", location=far)["ticket_id"])["grid_id"] == "grid-far"
    r = api.call("PUT", "/api/v1/grids/bad", "admin", json={"name": "x", "polygon": [[1, 2], [3, 4]]})
    assert r.status_code == 422


def test_overdue_tickets_escalate_once_with_history(api):
    parking = api.incident(key="p")["ticket_id"]  # medium: due in 24 h
    fire = api.incident(key="f", issue_type="fire")["ticket_id"]  # critical fire: 30 min
    done = api.incident(key="d", issue_type="fire")["ticket_id"]
    for action in ("start", "resolve"):
        api.act(done, action)
    api.clock.advance(timedelta(minutes=29))
    assert api.call("POST", "/api/v1/admin/escalate", "dispatcher").json() == {"escalated": []}
    api.clock.advance(timedelta(minutes=2))
    r = api.call("POST", "/api/v1/admin/escalate", "dispatcher")
    assert r.json() == {"escalated": [api.ticket(fire)["number"]]}  # the resolved one is not overdue
    t = api.ticket(fire)
    assert t["overdue"] is True and t["escalated_at"] == "2026-03-02T08:31:00Z"
    last = api.call("GET", f"/api/v1/tickets/{fire}/history", "admin").json()[-1]
    assert (last["actor"], last["action"]) == ("system:sla", "escalated")
    assert "overdue by 1 min" in last["note"] and "fire-rescue" in last["note"]
    assert api.call("POST", "/api/v1/admin/escalate", "admin").json() == {"escalated": []}  # once only
    api.clock.advance(timedelta(days=1))
    assert api.call("POST", "/api/v1/admin/escalate", "admin").json() == {"escalated": [api.ticket(parking)["number"]]}
    overdue = api.call("GET", "/api/v1/tickets", "viewer", params={"overdue": "true"}).json()
    assert {t["id"] for t in overdue["items"]} == {fire, parking}


def test_escalation_runs_in_the_background_loop(db_url, tmp_path):
    """The app's own loop escalates without anyone calling the endpoint, and reloads the grids."""
    import time

    from fastapi.testclient import TestClient

    from api.app import create_app
    from api.services.clock import ManualClock
    from api.storage.objects import LocalStore
    from tests.api.conftest import START, make_settings, wipe

    clock = ManualClock(START)
    app = create_app(make_settings(db_url, tmp_path), clock=clock, store=LocalStore(tmp_path / "ev"))
    app.state.gs.rules.escalation_interval_s = 0.05
    with TestClient(app):
        gs = app.state.gs
        wipe(gs.engine)
        from api.app import start_up
        from api.auth import Principal
        from api.schemas.incidents import IncidentIn
        from api.services.incidents import ingest_incident

        start_up(gs, migrate=False)
        with gs.sessions() as s:
            ingest_incident(s, IncidentIn(key="bg", seq=1, issue_type="fire"), Principal(0, "test", "ingest"),
                            clock.now(), gs.rules, gs.grids)
            s.commit()
        clock.advance(timedelta(hours=1))
        from sqlalchemy import select

        from api.db.models import Ticket

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with gs.sessions() as s:
                if s.scalar(select(Ticket.overdue).where(Ticket.dedup_key == "bg")):
                    break
            time.sleep(0.05)
        else:
            pytest.fail("the background loop did not escalate the overdue ticket")
        # a grid written by another process (here: straight into the database) is picked up too
        from api.services.registry import upsert_grid

        with gs.sessions() as s:
            upsert_grid(s, "grid-elsewhere", "Elsewhere", [[10, 10], [10, 11], [11, 11], [11, 10]])
            s.commit()
        deadline = time.monotonic() + 10
        while gs.grids.grid_at(10.5, 10.5) != "grid-elsewhere":
            if time.monotonic() > deadline:
                pytest.fail("the background loop did not reload the grids")
            time.sleep(0.05)
