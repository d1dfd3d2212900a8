"""The review console's API (both databases): the queue of unreviewed detections (newest first,
filters, keyset pages, scope), thumbnails made once and cached, camera health, and the console's
page served offline."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

from PIL import Image

from api.routers.console import STATIC
from api.services.queue import decode_cursor, encode_cursor
from api.services.thumbnails import CROP_SIZE, FRAME_WIDTH, crop_region, source_of
from tests.api.conftest import NW, SE


def _jpeg(size=(640, 360)) -> bytes:
    im = Image.new("RGB", size, (120, 130, 140))
    im.paste((200, 30, 30), (300, 150, 380, 230))  # the "problem": a red square
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def _post(api, key: str, camera: str = "cam-01", itype: str = "illegal_parking", location=NW, evidence=True,
          box=(300, 150, 380, 230)) -> int:
    body = {"key": key, "seq": 1, "event": "open", "issue_type": itype, "source": "camera", "camera_id": camera,
            "zone_id": "kerb", "score": 0.8, "location": location,
            "detections": [{"class_name": "car", "score": 0.8, "box": list(box), "track_id": 1}]}
    if evidence:
        r = api.call("POST", "/api/v1/incidents", "ingest", data={"incident": json.dumps(body)},
                     files={"evidence_annotated": ("a.jpg", _jpeg(), "image/jpeg")})
    else:
        r = api.call("POST", "/api/v1/incidents", "ingest", json=body)
    assert r.status_code == 201, r.text
    api.clock.advance(timedelta(minutes=1))
    return r.json()["ticket_id"]


def _queue(api, user="operator", **params) -> dict:
    r = api.call("GET", "/api/v1/review-queue", user, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_queue_is_newest_first_filtered_and_keyset_paged(api):
    ids = [_post(api, f"k{i}", camera=("cam-01", "cam-02")[i % 2], location=(NW, SE)[i % 3 == 0],
                 itype=("illegal_parking", "garbage")[i % 4 == 3]) for i in range(7)]
    page = _queue(api, limit=3)
    assert [i["id"] for i in page["items"]] == ids[::-1][:3]
    first = page["items"][0]
    assert first["name_en"] and first["name_zh"] and first["box"] == [300.0, 150.0, 380.0, 230.0]
    assert first["thumbnail_url"].endswith("kind=frame") and first["crop_url"].endswith("kind=crop")
    seen = [i["id"] for i in page["items"]]
    while page["next"]:
        page = _queue(api, limit=3, after=page["next"])
        seen += [i["id"] for i in page["items"]]
    assert seen == ids[::-1]  # every detection once, newest first
    assert {i["id"] for i in _queue(api, camera="cam-02")["items"]} == set(ids[1::2])
    assert {i["id"] for i in _queue(api, type="garbage")["items"]} == {ids[3]}
    assert {i["id"] for i in _queue(api, grid="grid-south-east")["items"]} == {ids[0], ids[3], ids[6]}
    # status: dispatched ones are still waiting for review; the filter picks them
    api.act(ids[2], "dispatch")
    assert [i["id"] for i in _queue(api, status="dispatched")["items"]] == [ids[2]]
    # reviewed detections leave the queue (confirmed: status unchanged; rejected: status changes)
    assert api.call("POST", f"/api/v1/tickets/{ids[6]}/review", "operator",
                    json={"verdict": "confirmed"}).status_code == 200
    assert api.call("POST", f"/api/v1/tickets/{ids[5]}/review", "operator",
                    json={"verdict": "rejected", "reason": "not_a_problem"}).status_code == 200
    waiting = [i["id"] for i in _queue(api)["items"]]
    assert ids[6] not in waiting and ids[5] not in waiting and len(waiting) == 5
    assert [i["id"] for i in _queue(api, reviewed="true")["items"]] == [ids[6]]  # open and reviewed
    # scope: a handler sees its department's only (illegal parking -> traffic police)
    assert {i["department_id"] for i in _queue(api, "handler")["items"]} == {"traffic-police"}
    # bad input: a clear 422, never a 500
    for bad in ({"after": "yesterday"}, {"after": "2026-03-02T08:00:00.000000Z~x"}, {"limit": 0},
                {"after": "2026-03-02T08:00:00.000000Z~" + "9" * 30}, {"after": "2026-03-02T08:00:00.000000Z~-1"},
                {"status": "lost"}):
        r = api.call("GET", "/api/v1/review-queue", "operator", params=bad)
        assert r.status_code == 422, (bad, r.text)
    assert api.call("GET", "/api/v1/review-queue", "ingest").status_code == 403


def test_cursor_round_trip():
    from datetime import datetime, timezone

    at = datetime(2026, 3, 2, 8, 0, 1, 250000, tzinfo=timezone.utc)
    assert decode_cursor(encode_cursor(at, 77)) == (at, 77)


def test_thumbnails_are_made_once_and_cached(api, tmp_path):
    tid = _post(api, "thumb-1")
    r = api.call("GET", f"/api/v1/tickets/{tid}/thumbnail", "viewer", params={"kind": "crop"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    crop = Image.open(io.BytesIO(r.content))
    assert max(crop.size) == CROP_SIZE
    # the crop is the problem region: mostly the red square, zoomed
    red = sum(1 for p in crop.convert("RGB").getdata() if p[0] > 150 and p[1] < 90)
    assert red > 0.2 * crop.size[0] * crop.size[1]
    frame = Image.open(io.BytesIO(api.call("GET", f"/api/v1/tickets/{tid}/thumbnail", "viewer").content))
    assert frame.size == (FRAME_WIDTH, 180)
    cached = list((api.gs.settings.cache_dir / "thumbnails").glob("*.jpg"))
    assert len(cached) == 2
    # made once: with the evidence gone from the store, the cached thumbnails still answer
    key = api.ticket(tid)["evidence"][0]["object_key"]
    (api.gs.store.folder / key).unlink()
    assert api.call("GET", f"/api/v1/tickets/{tid}/evidence", "viewer").status_code == 404
    again = api.call("GET", f"/api/v1/tickets/{tid}/thumbnail", "viewer", params={"kind": "crop"})
    assert again.status_code == 200 and again.content == r.content
    # no evidence: 404 with a reason; unknown kind: 422; no credentials: 401
    bare = _post(api, "thumb-2", evidence=False)
    r = api.call("GET", f"/api/v1/tickets/{bare}/thumbnail", "viewer")
    assert r.status_code == 404 and "no evidence" in r.json()["detail"]
    assert api.call("GET", f"/api/v1/tickets/{tid}/thumbnail", "viewer", params={"kind": "big"}).status_code == 422
    assert api.call("GET", f"/api/v1/tickets/{tid}/thumbnail").status_code == 401


def test_focus_box_survives_odd_stored_detections():
    from api.services.queue import focus_box

    odd = [{"box": [1, 2, "x", 4]}, {"box": [float("nan"), 0, 1, 1]}, {"box": [1, 2, 3]}, {"class_name": "car"},
           "junk", {"box": [10, 20, 30, 40]}, {"box": ["5", 6, 7, 8]}]
    assert focus_box(odd) == [5.0, 6.0, 30.0, 40.0]
    assert focus_box(None) is None and focus_box([{"box": None}]) is None


def test_crop_source_and_region():
    ev = [{"kind": "annotated", "object_key": "a"}, {"kind": "raw", "object_key": "r"}]
    assert source_of(ev, "crop") == ("a", False)
    assert source_of([*ev, {"kind": "crop", "object_key": "c"}], "crop") == ("c", True)  # a stored crop wins
    assert source_of([{"kind": "raw", "object_key": "r"}], "frame") == ("r", False)
    assert source_of([], "crop") is None
    assert crop_region((360, 640), [300, 150, 380, 230]) == (272, 122, 408, 258)  # margin around the box
    assert crop_region((360, 640), [630, 350, 640, 360])[2:] == (640, 360)  # clipped at the edge
    assert crop_region((360, 640), [900, 900, 950, 950]) == (0, 0, 640, 360)  # outside: the whole picture


def test_camera_health(api):
    _post(api, "h1", camera="campus-east")
    _post(api, "h2", camera="campus-east")
    rows = {c["camera_id"]: c for c in api.call("GET", "/api/v1/camera-health", "viewer").json()}
    cam = rows["campus-east"]
    assert cam["registered"] and cam["state"] == "online" and cam["open_incidents"] == 2 and cam["open_tickets"] == 2
    assert cam["last_frame_at"] and cam["location"]
    api.clock.advance(timedelta(hours=2))
    cam = {c["camera_id"]: c for c in api.call("GET", "/api/v1/camera-health", "viewer").json()}["campus-east"]
    assert cam["state"] in ("offline", "unknown")  # nothing seen for 2 h; "offline" only where workers lease
    assert api.call("GET", "/api/v1/camera-health", "ingest").status_code == 403


def test_console_page_is_served_offline(api):
    r = api.client.get("/console")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "http" not in csp
    for name in ("console.js", "console.css", "icon.svg"):
        assert api.client.get(f"/console/static/{name}").status_code == 200
    for bad in ("../app.py", "..%2Fapp.py", "nope.js", ".hidden.js"):
        assert api.client.get(f"/console/static/{bad}").status_code == 404
    # every file the page loads is local: no URL of another host in any of them
    for f in STATIC.iterdir():
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f"{f.name} names a remote URL"
