"""Operator review on the real API (SQLite and PostgreSQL): confirm, reject with a reason, the mute
a rejected false positive leaves on its camera, zone and type (posts counted, no new ticket;
shown in the ticket; liftable; it expires), and the reviewed-detections listing the export reads."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import NW


def _tickets(api) -> list[dict]:
    return api.call("GET", "/api/v1/tickets?limit=500", "admin").json()["items"]


def _review(api, ticket_id, user="operator", expect=200, **body):
    r = api.call("POST", f"/api/v1/tickets/{ticket_id}/review", user, json=body)
    assert r.status_code == expect, r.text
    return r.json()


def test_confirm_is_recorded_and_shown(api):
    tid = api.incident(key="cam-01:illegal_parking:kerb:100")["ticket_id"]
    out = _review(api, tid, verdict="confirmed", note="a car, clearly")
    assert out["review"]["verdict"] == "confirmed" and out["review"]["reviewer"] == "operator"
    assert out["ticket"]["status"] == "new" and out["mute"] is None
    shown = api.call("GET", f"/api/v1/tickets/{tid}/review", "viewer").json()
    assert shown["review"]["note"] == "a car, clearly" and shown["mutes"] == [] and shown["muted"] is False
    history = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()
    assert history[-1]["action"] == "review" and history[-1]["actor"] == "operator"
    # viewers and handlers may read but not review
    assert api.call("POST", f"/api/v1/tickets/{tid}/review", "viewer", json={"verdict": "confirmed"}).status_code == 403
    assert api.call("POST", f"/api/v1/tickets/{tid}/review", json={"verdict": "confirmed"}).status_code == 401


def test_rejecting_needs_a_known_reason(api):
    tid = api.incident(key="cam-01:illegal_parking:kerb:101")["ticket_id"]
    r = api.call("POST", f"/api/v1/tickets/{tid}/review", "operator", json={"verdict": "rejected"})
    assert r.status_code == 422 and "reason is required" in r.text
    r = api.call("POST", f"/api/v1/tickets/{tid}/review", "operator", json={"verdict": "rejected", "reason": "ugly"})
    assert r.status_code == 422
    r = api.call("POST", f"/api/v1/tickets/{tid}/review", "operator",
                 json={"verdict": "rejected", "reason": "duplicate"})
    assert r.status_code == 422 and "duplicate_of" in r.text
    assert api.ticket(tid)["status"] == "new"  # nothing half-done


def test_duplicate_links_and_does_not_mute(api):
    first = api.incident(key="cam-01:illegal_parking:kerb:102")["ticket_id"]
    second = api.incident(key="cam-01:illegal_parking:kerb:103")["ticket_id"]
    out = _review(api, second, verdict="rejected", reason="duplicate", duplicate_of=str(first))
    assert out["ticket"]["status"] == "duplicate" and out["ticket"]["duplicate_of_id"] == first
    assert out["mute"] is None
    # a real problem: the next occurrence makes a ticket
    assert api.incident(key="cam-01:illegal_parking:kerb:104")["created"] is True


def test_false_positive_mutes_its_camera_zone_and_type_until_lifted(api):
    tid = api.incident(key="cam-01:illegal_parking:kerb:200")["ticket_id"]
    out = _review(api, tid, verdict="rejected", reason="not_a_problem", note="loading bay, allowed")
    assert out["ticket"]["status"] == "rejected" and out["ticket"]["reason"].startswith("not a problem")
    mute = out["mute"]
    assert (mute["camera_id"], mute["zone_id"], mute["issue_type"]) == ("cam-01", "kerb", "illegal_parking")
    assert mute["active"] and mute["until"] == (api.clock.now() + timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    before = len(_tickets(api))

    # the same problem comes back under a new incident key, open and update: no ticket, counted
    api.clock.advance(timedelta(minutes=5))
    for seq, event in ((1, "open"), (2, "update")):
        ans = api.incident(key="cam-01:illegal_parking:kerb:500", seq=seq, event=event)
        assert ans == {"ticket_id": tid, "number": out["ticket"]["number"], "status": "rejected", "created": False}
    assert len(_tickets(api)) == before
    shown = api.call("GET", f"/api/v1/tickets/{tid}/review", "viewer").json()
    assert shown["muted"] is True
    assert shown["mutes"][0]["suppressed"] == 2 and shown["mutes"][0]["last_key"] == "cam-01:illegal_parking:kerb:500"
    history = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()
    assert [e["action"] for e in history].count("muted_incident") == 1  # once per incident key
    assert any(e["action"] == "mute" for e in history)

    # other zones, other types and other cameras are not muted
    assert api.incident(key="cam-01:illegal_parking:gate:501", zone_id="gate")["created"] is True
    assert api.incident(key="cam-01:garbage:kerb:502", issue_type="garbage")["created"] is True
    assert api.incident(key="cam-02:illegal_parking:kerb:503", camera_id="cam-02")["created"] is True

    # lifted: tickets again
    r = api.call("POST", f"/api/v1/mutes/{mute['id']}/lift", "viewer")
    assert r.status_code == 403
    r = api.call("POST", f"/api/v1/mutes/{mute['id']}/lift", "dispatcher", json={"note": "loading bay moved"})
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["lifted_by"] == "dispatcher"
    assert api.call("POST", f"/api/v1/mutes/{mute['id']}/lift", "dispatcher").status_code == 409
    assert api.incident(key="cam-01:illegal_parking:kerb:600")["created"] is True
    assert api.call("GET", "/api/v1/mutes?active=true", "viewer").json() == []


def test_mute_expires_and_its_length_is_configurable(api):
    tid = api.incident(key="cam-03:fire_lane_blocked:lane:1", camera_id="cam-03", zone_id="lane",
                       issue_type="fire_lane_blocked")["ticket_id"]
    out = _review(api, tid, verdict="rejected", reason="wrong_class", correct_class="bench", mute_hours=2)
    assert out["review"]["correct_class"] == "bench"
    assert api.incident(key="cam-03:fire_lane_blocked:lane:2", camera_id="cam-03", zone_id="lane",
                        issue_type="fire_lane_blocked")["created"] is False
    api.clock.advance(timedelta(hours=2, seconds=1))
    assert api.incident(key="cam-03:fire_lane_blocked:lane:3", camera_id="cam-03", zone_id="lane",
                        issue_type="fire_lane_blocked")["created"] is True
    listed = api.call("GET", "/api/v1/mutes?active=false&camera=cam-03", "viewer").json()
    assert [m["id"] for m in listed] == [out["mute"]["id"]] and listed[0]["suppressed"] == 1


def test_rejecting_without_mute_and_upload_tickets(api):
    tid = api.incident(key="cam-01:illegal_parking:kerb:300")["ticket_id"]
    assert _review(api, tid, verdict="rejected", reason="privacy", mute=False)["mute"] is None
    assert api.incident(key="cam-01:illegal_parking:kerb:301")["created"] is True
    up = api.incident(key="upload:abc:illegal_parking:any", source="upload", camera_id=None, zone_id=None,
                      location=NW)["ticket_id"]
    assert _review(api, up, verdict="rejected", reason="not_a_problem")["mute"] is None  # no camera to mute
    up2 = api.incident(key="upload:def:illegal_parking:any", source="upload", camera_id=None, zone_id=None)["ticket_id"]
    r = api.call("POST", f"/api/v1/tickets/{up2}/review", "operator",
                 json={"verdict": "rejected", "reason": "not_a_problem", "mute": True})
    assert r.status_code == 422 and "camera" in r.text
    # a resolved ticket is no longer a detection to reject (409 with what is allowed)
    done = api.incident(key="cam-01:illegal_parking:kerb:302")["ticket_id"]
    for action in ("dispatch", "start", "resolve"):
        api.act(done, action)
    r = api.call("POST", f"/api/v1/tickets/{done}/review", "operator",
                 json={"verdict": "rejected", "reason": "not_a_problem"})
    assert r.status_code == 409 and "reopen" in r.json()["allowed"]


def test_reviewed_listing_for_the_export(api):
    since = api.clock.now().isoformat()
    a = api.incident(key="cam-01:illegal_parking:kerb:400", evidence=[])["ticket_id"]
    b = api.incident(key="cam-01:illegal_parking:kerb:401")["ticket_id"]
    api.incident(key="cam-01:illegal_parking:kerb:402")  # not reviewed
    _review(api, a, verdict="confirmed")
    _review(api, b, verdict="rejected", reason="not_a_problem", mute=False)
    page = api.call("GET", "/api/v1/reviews", "viewer", params={"since": since, "limit": 1}).json()
    assert [i["ticket_id"] for i in page["items"]] == [a] and page["next_after_id"]
    rest = api.call("GET", "/api/v1/reviews", "viewer",
                    params={"since": since, "after_id": page["next_after_id"]}).json()
    assert [(i["ticket_id"], i["verdict"], i["reason"]) for i in rest["items"]] == [(b, "rejected", "not_a_problem")]
    assert rest["items"][0]["detections"][0]["class_name"] == "car" and rest["next_after_id"] is None
    later = (api.clock.now() + timedelta(seconds=1)).isoformat()
    assert api.call("GET", "/api/v1/reviews", "viewer", params={"since": later}).json()["items"] == []
    assert api.call("GET", "/api/v1/reviews", "viewer", params={"since": "yesterday"}).status_code == 422
