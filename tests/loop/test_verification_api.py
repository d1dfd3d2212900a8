"""The camera-verification endpoint on the real API (SQLite and PostgreSQL): what the pipeline
reports after re-watching a resolved ticket's camera and zone, and the lifecycle rule the
service applies (reopen with fresh evidence / verify with before and after / note why not)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from PIL import Image

from tests.loop.conftest import jpeg


def resolved_ticket(api, key: str = "cam-01:fire_lane_blocked:lane:1", **fields) -> int:
    before = api.gs.store.put(jpeg((40, 40, 200), text="before"), "image/jpeg")
    tid = api.incident(key=key, issue_type="fire_lane_blocked", zone_id="lane",
                       evidence=[{"kind": "annotated", "object_key": before}, {"kind": "raw", "object_key": before}],
                       **fields)["ticket_id"]
    t = api.ticket(tid)
    for action in (["dispatch"] if t["status"] == "new" else []) + ["start", "resolve"]:
        api.act(tid, action)
    return tid


def report(api, tid, result: dict, images: bool = True, user: str = "ingest"):
    files = {"evidence_annotated": ("a.jpg", jpeg((0, 160, 0), text="after"), "image/jpeg"),
             "evidence_raw": ("r.jpg", jpeg((0, 120, 0)), "image/jpeg")} if images else None
    if files:
        return api.call("POST", f"/api/v1/tickets/{tid}/verification", user, data={"result": json.dumps(result)},
                        files=files)
    return api.call("POST", f"/api/v1/tickets/{tid}/verification", user, json=result)


def pending(api) -> list[int]:
    r = api.call("GET", "/api/v1/verifications/pending", "ingest", params={"camera": ["cam-01", "cam-09"]})
    assert r.status_code == 200, r.text
    return [p["ticket_id"] for p in r.json()]


WINDOW = {"window_start": "2026-03-02T08:00:00Z", "window_end": "2026-03-02T08:01:00Z"}


def test_still_there_reopens_with_fresh_evidence(api):
    tid = resolved_ticket(api)
    t = api.ticket(tid)
    assert pending(api) == [tid]
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "still_present", "resolved_at": t["resolved_at"],
                          "frames": 30, "present_frames": 28, "score": 0.91, **WINDOW,
                          "detections": [{"class_name": "bus", "score": 0.91, "box": [1, 2, 30, 40]}]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["applied"] is True and out["ticket"]["status"] == "reopened" and out["ticket"]["reopen_count"] == 1
    assert out["ticket"]["detections"][0]["class_name"] == "bus" and out["ticket"]["score"] == 0.91
    fresh = {e["kind"]: e["object_key"] for e in out["ticket"]["evidence"]}
    assert fresh["annotated"] != fresh["raw"] and fresh["annotated"] not in {e["object_key"] for e in t["evidence"]}
    ev = api.call("GET", f"/api/v1/tickets/{tid}/evidence", "viewer")
    assert ev.status_code == 200 and ev.content == api.gs.store.get(fresh["annotated"])
    last = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()[-1]
    assert (last["actor"], last["action"], last["to_status"]) == ("camera:cam-01", "reopen", "reopened")
    assert "camera cam-01 still sees" in last["note"] and "28/30 frames" in last["note"]
    assert pending(api) == []
    # the same report again (a retry) changes nothing and is not an error
    again = report(api, tid, {"camera_id": "cam-01", "outcome": "still_present", "resolved_at": t["resolved_at"]})
    assert again.status_code == 200 and again.json()["applied"] is False
    assert api.ticket(tid)["reopen_count"] == 1


def test_gone_verifies_with_before_and_after_images(api):
    tid = resolved_ticket(api)
    t = api.ticket(tid)
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "gone", "resolved_at": t["resolved_at"], "frames": 30,
                          "present_frames": 2, **WINDOW})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["ticket"]["status"] == "verified" and out["ticket"]["verified_at"]
    v = out["verification"]
    assert (v["method"], v["outcome"], v["applied"], v["frames"], v["present_frames"]) == ("camera", "gone", "verify",
                                                                                           30, 2)
    kinds = {i["kind"]: i for i in v["images"]}
    assert set(kinds) == {"before", "after_raw", "after_annotated", "before_after"}
    assert kinds["before"]["object_key"] == t["evidence"][0]["object_key"]  # the before image is the evidence
    pair = api.call("GET", kinds["before_after"]["url"], "viewer")
    assert pair.status_code == 200 and pair.headers["content-type"] == "image/jpeg"
    w, h = Image.open(io.BytesIO(pair.content)).size
    assert h == 120 and w == 160 + 8 + 160  # before | after, side by side
    listed = api.call("GET", f"/api/v1/tickets/{tid}/verifications", "viewer").json()
    assert [x["id"] for x in listed] == [v["id"]]
    last = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()[-1]
    assert (last["actor"], last["action"], last["to_status"]) == ("camera:cam-01", "verify", "verified")
    assert api.call("GET", f"/api/v1/tickets/{tid}/verifications/{v['id']}/image?kind=nope", "viewer").status_code == 422


def test_camera_offline_leaves_it_resolved_and_says_why(api):
    tid = resolved_ticket(api)
    t = api.ticket(tid)
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "camera_offline", "resolved_at": t["resolved_at"]},
               images=False)
    assert r.status_code == 422 and "why" in r.text  # nothing is guessed, but the reason is required
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "camera_offline", "resolved_at": t["resolved_at"],
                          "reason": "camera cam-01 sent no frame for 95 s"}, images=False)
    assert r.status_code == 200 and r.json()["ticket"]["status"] == "resolved"
    last = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()[-1]
    assert last["action"] == "verification" and "no frame for 95 s" in last["note"] and last["to_status"] == "resolved"
    assert "asked again in 10 min (check 1 of 3)" in last["note"]
    assert pending(api) == []  # not at once: the camera gets time to come back
    for check in (2, 3):
        api.clock.advance(timedelta(minutes=9))
        assert pending(api) == []
        api.clock.advance(timedelta(minutes=2))
        assert pending(api) == [tid]  # asked again
        r = report(api, tid, {"camera_id": "cam-01", "outcome": "camera_offline", "resolved_at": t["resolved_at"],
                              "reason": "still no frames"}, images=False)
        assert r.status_code == 200 and r.json()["ticket"]["status"] == "resolved"
    last = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()[-1]
    assert "a person must verify it" in last["note"] and last["data"]["check"] == 3
    api.clock.advance(timedelta(hours=2))
    assert pending(api) == []  # three checks found it offline: a person verifies it now
    # a new resolve (after a reopen by a supervisor) is pending again
    api.clock.advance(timedelta(minutes=30))
    for action in ("reopen", "dispatch", "start", "resolve"):
        api.act(tid, action)
    assert pending(api) == [tid]


def test_bad_and_stale_reports(api):
    tid = resolved_ticket(api)
    t = api.ticket(tid)
    assert report(api, tid, {"camera_id": "cam-01", "outcome": "gone"}, user="viewer").status_code == 403
    assert report(api, tid, {"camera_id": "cam-01", "outcome": "gone"}, user="operator").status_code == 403
    r = report(api, tid, {"camera_id": "cam-07", "outcome": "gone", "resolved_at": t["resolved_at"]})
    assert r.status_code == 422 and "cam-01" in r.text
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "gone", "frames": 2, "present_frames": 3})
    assert r.status_code == 422
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "gone"}, images=False)
    assert r.status_code == 422 and "image" in r.text
    r = report(api, tid, {"camera_id": "cam-01", "outcome": "gone", "resolved_at": "2026-03-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["applied"] is False and "resolved again" in r.json()["reason"]
    r = api.call("POST", f"/api/v1/tickets/{tid}/verification", "ingest",
                 files={"evidence_raw": ("r.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 422 and "result" in r.text
    assert api.ticket(tid)["status"] == "resolved" and pending(api) == [tid]
    assert api.call("POST", "/api/v1/tickets/999999/verification", "ingest",
                    json={"camera_id": "cam-01", "outcome": "gone"}).status_code == 404


def test_only_camera_tickets_of_the_asked_cameras_are_pending(api):
    mine = resolved_ticket(api)
    resolved_ticket(api, key="cam-05:fire_lane_blocked:lane:1", camera_id="cam-05")
    resolved_ticket(api, key="upload:x:fire_lane_blocked:lane", source="upload")
    api.incident(key="cam-01:fire_lane_blocked:lane:open", issue_type="fire_lane_blocked")  # not resolved
    assert pending(api) == [mine]
    assert api.call("GET", "/api/v1/verifications/pending", "viewer").status_code == 403
