"""Ticket lifecycle: transitions, 409 with the allowed ones, history, feedback, reopen, 404s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.test_incidents import jpeg


def test_full_lifecycle_with_history(api):
    t = api.incident()
    tid = t["ticket_id"]
    api.clock.advance(timedelta(minutes=5))
    d = api.act(tid, "dispatch", "dispatcher", assignee_id=api.users["handler"], note="to the kerb team")
    assert d["status"] == "dispatched" and d["assignee_id"] == api.users["handler"]
    assert d["dispatched_at"] == "2026-03-02T08:05:00Z"
    api.clock.advance(timedelta(minutes=10))
    assert api.act(tid, "start", "handler")["status"] == "in_progress"
    api.clock.advance(timedelta(minutes=30))
    r = api.act(tid, "resolve", "handler", note="car towed")
    assert r["status"] == "resolved" and r["resolved_at"] == "2026-03-02T08:45:00Z"
    assert api.act(tid, "verify", "grid_officer")["status"] == "verified"
    c = api.act(tid, "close", "dispatcher")
    assert c["status"] == "closed" and c["closed_at"]
    hist = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in hist] == [
        ("created", None, "new"), ("dispatch", "new", "dispatched"), ("start", "dispatched", "in_progress"),
        ("resolve", "in_progress", "resolved"), ("verify", "resolved", "verified"), ("close", "verified", "closed")]
    assert [e["actor"] for e in hist] == ["ingest", "dispatcher", "handler", "handler", "grid_officer", "dispatcher"]
    assert hist[1]["note"] == "to the kerb team" and hist[3]["note"] == "car towed"
    assert hist[2]["at"] == "2026-03-02T08:15:00Z"


def test_invalid_transition_is_409_listing_allowed(api):
    tid = api.incident()["ticket_id"]
    for action in ("start", "resolve", "verify", "close", "reopen"):
        r = api.call("POST", f"/api/v1/tickets/{tid}/{action}", "admin")
        assert r.status_code == 409, r.text
        out = r.json()
        assert out["status"] == "new" and out["allowed"] == ["dispatch", "reject", "duplicate"]
        assert f"cannot {action}" in out["detail"] and "dispatch" in out["detail"]
    assert api.ticket(tid)["status"] == "new"
    assert len(api.call("GET", f"/api/v1/tickets/{tid}/history", "admin").json()) == 1


def test_final_states_allow_nothing(api):
    tid = api.incident()["ticket_id"]
    api.act(tid, "reject", "operator", reason="a shadow, not a car")
    r = api.call("POST", f"/api/v1/tickets/{tid}/dispatch", "admin")
    assert r.status_code == 409 and r.json()["allowed"] == []


def test_reject_needs_a_reason(api):
    tid = api.incident()["ticket_id"]
    r = api.call("POST", f"/api/v1/tickets/{tid}/reject", "operator", json={"reason": ""})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "reason"
    r = api.call("POST", f"/api/v1/tickets/{tid}/reject", "operator", json={"reason": "   "})
    assert r.status_code == 422
    t = api.act(tid, "reject", "operator", reason="reflection in a shop window")
    assert t["status"] == "rejected" and t["reason"] == "reflection in a shop window"


def test_duplicate_links_to_the_original(api):
    first = api.incident(key="a")["ticket_id"]
    second = api.incident(key="b")["ticket_id"]
    third = api.incident(key="c")["ticket_id"]
    number = api.ticket(first)["number"]
    d = api.act(second, "duplicate", "operator", duplicate_of=number)
    assert d["status"] == "duplicate" and d["duplicate_of_id"] == first
    # pointing at a duplicate links to its root
    assert api.act(third, "duplicate", "operator", duplicate_of=str(second))["duplicate_of_id"] == first
    r = api.call("POST", f"/api/v1/tickets/{first}/duplicate", "operator", json={"duplicate_of": str(first)})
    assert r.status_code == 422
    r = api.call("POST", f"/api/v1/tickets/{first}/duplicate", "operator", json={"duplicate_of": "999999"})
    assert r.status_code == 422 and "999999" in r.text
    assert api.ticket(first)["status"] == "new"


def test_reopen_goes_back_through_dispatch(api):
    tid = api.incident()["ticket_id"]
    for action in ("dispatch", "start", "resolve"):
        api.act(tid, action)
    api.clock.advance(timedelta(days=3))
    t = api.act(tid, "reopen", "grid_officer", note="still parked there")
    assert t["status"] == "reopened" and t["reopen_count"] == 1 and t["resolved_at"] is None
    assert t["due_at"] == "2026-03-06T08:00:00Z"  # a fresh SLA (medium: 24 h) from the reopening
    r = api.call("POST", f"/api/v1/tickets/{tid}/start", "admin")
    assert r.status_code == 409 and r.json()["allowed"] == ["dispatch", "reject", "duplicate"]
    assert api.act(tid, "dispatch")["status"] == "dispatched"


def test_camera_seeing_the_problem_again_reopens_a_resolved_ticket(api):
    tid = api.incident(seq=1)["ticket_id"]
    for action in ("dispatch", "start", "resolve"):
        api.act(tid, action)
    api.clock.advance(timedelta(minutes=10))
    api.incident(seq=2, event="update", last_seen=api.clock.now().isoformat())
    t = api.ticket(tid)
    assert t["status"] == "reopened" and t["reopen_count"] == 1
    last = api.call("GET", f"/api/v1/tickets/{tid}/history", "admin").json()[-1]
    assert (last["actor"], last["action"], last["from_status"]) == ("system:recheck", "reopen", "resolved")


def test_dispatch_checks_department_and_assignee(api):
    tid = api.incident()["ticket_id"]
    r = api.call("POST", f"/api/v1/tickets/{tid}/dispatch", "dispatcher", json={"department_id": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "department_id"]
    r = api.call("POST", f"/api/v1/tickets/{tid}/dispatch", "dispatcher",
                 json={"assignee_id": api.users["other_handler"]})  # a sanitation handler
    assert r.status_code == 422 and "not a handler of department traffic-police" in r.text
    t = api.act(tid, "dispatch", "dispatcher", department_id="sanitation", assignee_id=api.users["other_handler"])
    assert t["department_id"] == "sanitation"


def test_feedback_notes_photos_and_ratings(api):
    tid = api.incident()["ticket_id"]
    photo = jpeg((10, 200, 10))
    r = api.call("POST", f"/api/v1/tickets/{tid}/feedback", "handler", data={"note": "on my way"},
                 files=[("photos", ("p.jpg", photo, "image/jpeg"))])
    assert r.status_code == 201, r.text
    key = r.json()["photos"][0]
    assert api.call("GET", f"/api/v1/tickets/{tid}/evidence", "viewer", params={"key": key}).content == photo
    # handlers do not rate; nobody rates before the work is done
    r = api.call("POST", f"/api/v1/tickets/{tid}/feedback", "handler", data={"rating": "5"})
    assert r.status_code == 422
    r = api.call("POST", f"/api/v1/tickets/{tid}/feedback", "grid_officer", data={"rating": "4"})
    assert r.status_code == 409
    for action in ("dispatch", "start", "resolve"):
        api.act(tid, action)
    r = api.call("POST", f"/api/v1/tickets/{tid}/feedback", "grid_officer", data={"rating": "4", "note": "quick"})
    assert r.status_code == 201 and r.json()["rating"] == 4
    assert api.call("POST", f"/api/v1/tickets/{tid}/feedback", "operator", data={"rating": "6"}).status_code == 422
    assert api.call("POST", f"/api/v1/tickets/{tid}/feedback", "operator", data={}).status_code == 422
    fb = api.call("GET", f"/api/v1/tickets/{tid}/feedback", "viewer").json()
    assert [(f["author"], f["rating"]) for f in fb] == [("handler", None), ("grid_officer", 4)]
    assert api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()[-1]["action"] == "feedback"


def test_unknown_tickets_are_404(api):
    api.incident()  # ticket 1 exists, created in 2026: GS-2025-000001 does not
    for method, path in [("GET", "/api/v1/tickets/{x}"), ("GET", "/api/v1/tickets/{x}/history"),
                         ("POST", "/api/v1/tickets/{x}/dispatch"), ("GET", "/api/v1/tickets/{x}/evidence"),
                         ("GET", "/api/v1/tickets/{x}/feedback")]:
        for ref in ("999999", "GS-2026-999999", "nonsense", "GS-2025-000001"):
            r = api.call(method, path.format(x=ref), "admin")
            assert r.status_code == 404, (method, path, ref, r.text)


def test_ticket_by_number(api):
    t = api.incident()
    assert api.ticket(t["number"])["id"] == t["ticket_id"]


def test_evidence_image_and_presigned_url(api):
    data = jpeg()
    key = api.gs.store.put(data, "image/jpeg")
    t = api.incident(evidence=[{"kind": "raw", "object_key": key}])
    tid = t["ticket_id"]
    r = api.call("GET", f"/api/v1/tickets/{tid}/evidence", "viewer")  # no annotated: falls back to raw
    assert r.status_code == 200 and r.content == data and r.headers["content-type"] == "image/jpeg"
    assert api.call("GET", f"/api/v1/tickets/{tid}/evidence?kind=annotated", "viewer").status_code == 404
    u = api.call("GET", f"/api/v1/tickets/{tid}/evidence/url", "viewer", params={"expires_s": 60})
    assert u.status_code == 200, u.text
    assert key in u.json()["url"] and u.json()["content_type"] == "image/jpeg"
    assert api.call("GET", f"/api/v1/tickets/{tid}/evidence", "viewer",
                    params={"key": "evidence/00/" + "0" * 64 + ".jpg"}).status_code == 404


def test_concurrent_transitions_apply_once(api):
    """Ten dispatchers press dispatch at once over real HTTP: one wins, nine get 409, one event."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from tests.api.conftest import LiveServer

    tid = api.incident()["ticket_id"]
    with LiveServer(api.app) as server, httpx.Client(base_url=server.url, headers=api.h("dispatcher"),
                                                     timeout=60) as http:
        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(lambda _: http.post(f"/api/v1/tickets/{tid}/dispatch").status_code, range(10)))
    assert sorted(codes) == [200] + [409] * 9
    actions = [e["action"] for e in api.call("GET", f"/api/v1/tickets/{tid}/history", "admin").json()]
    assert actions == ["created", "dispatch"]
