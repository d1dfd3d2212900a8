"""POST /api/v1/incidents: the contract in docs/incident-contract.md, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from api.db.models import Ticket, TicketEvent
from tests.api.conftest import NW, LiveServer


def jpeg(color=(0, 128, 255), size=(64, 48)) -> bytes:
    import cv2

    img = np.zeros((size[1], size[0], 3), np.uint8)
    img[:] = color
    return cv2.imencode(".jpg", img)[1].tobytes()


def count(api, model=Ticket) -> int:
    with api.gs.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_first_post_creates_later_posts_update(api):
    a = api.incident(seq=1)
    assert a["created"] is True and a["status"] == "new"
    assert a["number"] == f"GS-2026-{a['ticket_id']:06d}"
    api.clock.advance(timedelta(seconds=30))
    later = api.clock.now().isoformat()
    ev = {"kind": "annotated", "object_key": "evidence/ab/" + "ab" * 32 + ".jpg", "sha256": "ab" * 32}
    b = api.incident(seq=2, event="update", last_seen=later, score=0.9, evidence=[ev],
                     detections=[{"class_name": "car", "score": 0.9, "box": [1, 2, 3, 4]}])
    assert b == {**a, "created": False}
    t = api.ticket(a["ticket_id"])
    assert t["seq"] == 2 and t["score"] == 0.9 and t["last_seen_at"].startswith(later[:19])
    assert t["evidence"][0]["object_key"] == ev["object_key"] and t["detections"][0]["box"] == [1, 2, 3, 4]
    # ticket fields from the contract and the dispatch rules
    assert t["issue_type"] == "illegal_parking" and t["category_code"] == "0505"
    assert t["name_zh"] == "机动车乱停放" and t["severity"] == "medium"
    assert t["department_id"] == "traffic-police" and t["grid_id"] == "grid-north-west"
    assert t["location"] == NW and t["camera_id"] == "cam-01" and t["zone_id"] == "kerb"
    # a worse snapshot later does not replace the best evidence
    worse = {"kind": "annotated", "object_key": "evidence/cd/" + "cd" * 32 + ".jpg"}
    api.incident(seq=3, event="update", score=0.5, evidence=[worse])
    t = api.ticket(a["ticket_id"])
    assert t["seq"] == 3 and t["score"] == 0.9 and t["evidence"][0]["object_key"] == ev["object_key"]
    actions = [e["action"] for e in api.call("GET", f"/api/v1/tickets/{a['ticket_id']}/history", "admin").json()]
    assert actions == ["created", "incident_update", "incident_update"]


def test_stale_or_redelivered_seq_changes_nothing(api):
    a = api.incident(seq=5, score=0.8)
    before = api.ticket(a["ticket_id"])
    for seq in (5, 4, 0):
        r = api.call("POST", "/api/v1/incidents", "ingest", json={
            "key": before["dedup_key"], "seq": seq, "event": "update", "issue_type": "illegal_parking",
            "score": 1.0, "location": NW})
        assert r.status_code == 200 and r.json()["created"] is False
    assert api.ticket(a["ticket_id"]) == before
    assert count(api, TicketEvent) == 1


def test_close_event_keeps_ticket_open_and_marks_incident(api):
    a = api.incident(seq=1)
    api.incident(seq=2, event="close")
    t = api.ticket(a["ticket_id"])
    assert t["status"] == "new" and t["incident_state"] == "closed"


CONTRACT_VIOLATIONS = [
    ({"seq": 1, "issue_type": "fire"}, "key"),
    ({"key": "k", "issue_type": "fire"}, "seq"),
    ({"key": "k", "seq": 1}, "issue_type"),
    ({"key": "k", "seq": 1, "issue_type": "no_such_type"}, "issue_type"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "severity": "apocalyptic"}, "severity"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "event": "explode"}, "event"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "score": 1.5}, "score"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "first_seen": "2026-03-02T08:00:00"}, "first_seen"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "location": {"lat": 95, "lon": 0}}, "lat"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "detections": [{"class_name": "car", "score": 0.5,
                                                                  "box": [1, 2, 3]}]}, "box"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "evidence": [{"kind": "raw", "object_key": "../../etc/passwd"}]},
     "object_key"),
    ({"key": "k", "seq": 1, "issue_type": "fire", "first_seen": "2026-03-02T08:00:00Z",
      "last_seen": "2026-03-02T07:00:00Z"}, "last_seen"),
]


def test_contract_violations_are_422_with_field_errors_and_store_nothing(api):
    for body, field in CONTRACT_VIOLATIONS:
        r = api.call("POST", "/api/v1/incidents", "ingest", json=body)
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert any(field in json.dumps(e["loc"]) or field in e["msg"] for e in detail), (body, detail)
    assert count(api) == 0 and count(api, TicketEvent) == 0


def test_not_json_is_422(api):
    r = api.call("POST", "/api/v1/incidents", "ingest", content=b"{not json",
                 headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert count(api) == 0


def test_multipart_evidence_is_sniffed_and_stored_by_content_hash(api):
    import hashlib

    data = jpeg()
    inc = {"key": "cam-02:garbage:any:1", "seq": 1, "issue_type": "garbage", "location": NW,
           "evidence": [{"kind": "raw", "object_key": "evidence/ee/" + "ee" * 32 + ".jpg"}]}
    r = api.call("POST", "/api/v1/incidents", "ingest", data={"incident": json.dumps(inc)},
                 files={"evidence_annotated": ("whatever.txt", data, "text/plain")})
    assert r.status_code == 201, r.text
    t = api.ticket(r.json()["ticket_id"])
    by_kind = {e["kind"]: e for e in t["evidence"]}
    sha = hashlib.sha256(data).hexdigest()
    assert by_kind["annotated"]["sha256"] == sha and sha in by_kind["annotated"]["object_key"]
    assert by_kind["raw"]["object_key"].startswith("evidence/ee/")  # the reference travelled along
    img = api.call("GET", f"/api/v1/tickets/{t['id']}/evidence", "viewer")
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content == data


def test_multipart_rejects_non_images_and_oversized_parts(api):
    inc = json.dumps({"key": "cam-02:garbage:any:2", "seq": 1, "issue_type": "garbage"})
    r = api.call("POST", "/api/v1/incidents", "ingest", data={"incident": inc},
                 files={"evidence_raw": ("photo.jpg", b"GIF89a not really a jpeg", "image/jpeg")})
    assert r.status_code == 422 and "evidence_raw" in json.dumps(r.json())
    api.gs.settings.upload_max_bytes = 1000
    r = api.call("POST", "/api/v1/incidents", "ingest", data={"incident": inc},
                 files={"evidence_raw": ("big.jpg", jpeg(size=(640, 480)) + b"\0" * 2000, "image/jpeg")})
    assert r.status_code == 413
    r = api.call("POST", "/api/v1/incidents", "ingest", data={"nothing": "here"})
    assert r.status_code == 422
    api.gs.settings.upload_max_bytes = 10_000_000
    bad_type = json.dumps({"key": "cam-02:nope:any:1", "seq": 1, "issue_type": "nope"})
    r = api.call("POST", "/api/v1/incidents", "ingest", data={"incident": bad_type},
                 files={"evidence_raw": ("ok.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 422
    assert count(api) == 0
    assert not any(p.is_file() for p in api.gs.store.folder.rglob("*"))  # no blob either


def test_location_defaults_to_the_cameras(api):
    r = api.call("PUT", "/api/v1/cameras/cam-09", "admin",
                 json={"name": "Gate", "url": "rtsp://user:pw@10.0.0.9/s1", "location": {"lat": 31.225, "lon": 121.485,
                                                                                      "address": "Gate 9"}})
    assert r.status_code == 200, r.text
    a = api.incident(key="cam-09:fire:any:1", issue_type="fire", camera_id="cam-09", location=None)
    t = api.ticket(a["ticket_id"])
    assert t["location"] == {"lat": 31.225, "lon": 121.485, "address": "Gate 9"}
    assert t["grid_id"] == "grid-south-east"


def test_50_concurrent_posts_over_http_make_exactly_one_ticket(api):
    """Real HTTP to uvicorn on a loopback port; 50 threads post the same incident at once."""
    key = "cam-03:fire:any:1764309600"
    bodies = [{"key": key, "seq": 1 + (i % 5), "event": "open" if i % 5 == 0 else "update", "issue_type": "fire",
               "score": 0.5, "location": NW} for i in range(50)]
    with LiveServer(api.app) as server, httpx.Client(base_url=server.url, headers=api.h("ingest"),
                                                     timeout=60) as http:
        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(lambda b: http.post("/api/v1/incidents", json=b), bodies))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code >= 300]
    assert sum(a.status_code == 201 for a in answers) == 1
    assert len({a.json()["ticket_id"] for a in answers}) == 1
    with api.gs.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket).where(Ticket.dedup_key == key)) == 1
        assert s.scalar(select(Ticket.seq).where(Ticket.dedup_key == key)) == 5
        created = s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.action == "created"))
    assert created == 1


def test_load_never_opens_more_connections_than_the_api_works_on_at_once(api, tmp_path):
    """GRIDSIGHT_API_THREADS bounds the requests in progress; the pools hold as many connections,
    so a burst waits in the event loop instead of opening (and closing) extra connections."""
    from sqlalchemy import event

    from api.app import create_app
    from tests.api.conftest import make_settings

    app = create_app(make_settings(str(api.gs.engine.url.render_as_string(hide_password=False)), tmp_path,
                                   api_threads=3), store=api.gs.store, migrate=False, escalation=False)
    gs = app.state.gs
    stats = {"connects": 0, "out": 0, "most_out": 0}
    lock = threading.Lock()

    def on(engine):
        @event.listens_for(engine, "connect")
        def connect(*_):
            with lock:
                stats["connects"] += 1

        @event.listens_for(engine, "checkout")
        def checkout(*_):
            with lock:
                stats["out"] += 1
                stats["most_out"] = max(stats["most_out"], stats["out"])

        @event.listens_for(engine, "checkin")
        def checkin(*_):
            with lock:
                stats["out"] -= 1

    on(gs.engine)
    if gs.ingest_sessions.kw["bind"] is not gs.engine:
        on(gs.ingest_sessions.kw["bind"])
    bodies = [{"key": f"cam-05:fire:any:{i}", "seq": 1, "event": "open", "issue_type": "fire", "score": 0.5,
               "location": NW} for i in range(40)]
    with LiveServer(app, lifespan="on") as server, httpx.Client(base_url=server.url, headers=api.h("ingest"),
                                                                timeout=60) as http:
        stats.update(connects=0, most_out=0)  # start-up's own connections aside
        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(lambda b: http.post("/api/v1/incidents", json=b), bodies))
    assert [a.status_code for a in answers] == [201] * 40
    assert stats["most_out"] <= 3  # never more requests on the database than threads
    assert stats["connects"] <= 2 * 3  # at most one pool's worth per engine, however many waited
    assert count(api) == 40


def test_ingest_needs_credentials(api):
    body = {"key": "k", "seq": 1, "issue_type": "fire"}
    assert api.call("POST", "/api/v1/incidents", json=body).status_code == 401
    assert api.call("POST", "/api/v1/incidents", json=body, headers={"X-API-Key": "gsk_wrong"}).status_code == 401
    r = api.call("POST", "/api/v1/incidents", json=body, headers={"Authorization": f"Bearer {api.keys['ingest']}"})
    assert r.status_code == 201
    assert api.call("POST", "/api/v1/incidents", "viewer", json={**body, "key": "k2"}).status_code == 403
    assert count(api) == 1




def test_only_the_incident_door_commits_without_waiting_for_the_wal(api):
    from sqlalchemy import text

    if api.gs.engine.dialect.name != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    with api.gs.ingest_sessions() as s:
        assert s.execute(text("SHOW synchronous_commit")).scalar() == "off"
    with api.gs.sessions() as s:
        assert s.execute(text("SHOW synchronous_commit")).scalar() == "on"
