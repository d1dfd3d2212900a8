"""POST /api/v1/detect with the real detector (models.detector, COCO YOLO11n from the shared data)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from api.db.models import Ticket


@pytest.fixture(scope="session")
def detector(shared_data):
    from models.detector import load_detector

    return load_detector()


@pytest.fixture(scope="session")
def bus_jpg() -> bytes:
    import ultralytics

    return (Path(ultralytics.__file__).parent / "assets" / "bus.jpg").read_bytes()


def tickets(api) -> int:
    with api.gs.sessions() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def test_upload_makes_detections_incidents_and_one_ticket_per_problem(api, detector, bus_jpg):
    api.gs.detector = detector
    r = api.call("PUT", "/api/v1/cameras/cam-bus", "admin",
                 json={"name": "Bus stop", "location": {"lat": 31.235, "lon": 121.465, "address": "Stop 3"}})
    assert r.status_code == 200
    api.call("PUT", "/api/v1/cameras/cam-bus/zones/stop", "admin",
             json={"kind": "no_parking", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "options": {"normalized": True}})
    r = api.call("POST", "/api/v1/detect", "operator", data={"camera_id": "cam-bus"},
                 files={"files": ("upload.bin", bus_jpg, "application/octet-stream")})
    assert r.status_code == 200, r.text
    image = r.json()["images"][0]
    assert image["sha256"] == hashlib.sha256(bus_jpg).hexdigest() and (image["width"], image["height"]) == (810, 1080)
    names = [d["class_name"] for d in image["detections"]]
    assert "bus" in names and names.count("person") >= 3
    assert [i["issue_type"] for i in image["incidents"]] == ["illegal_parking"]
    (t,) = image["tickets"]
    assert t["created"] is True and t["number"].startswith("GS-2026-")
    ticket = api.ticket(t["ticket_id"])
    assert ticket["source"] == "upload" and ticket["camera_id"] == "cam-bus" and ticket["zone_id"] == "stop"
    assert ticket["grid_id"] == "grid-north-west" and ticket["department_id"] == "traffic-police"
    assert {d["class_name"] for d in ticket["detections"]} == {"bus"}
    assert {e["kind"] for e in ticket["evidence"]} == {"annotated", "raw", "crop"}  # no original by default
    assert all("/cam-bus/" in e["object_key"] and f"/{e['kind']}/" in e["object_key"] for e in ticket["evidence"])
    raw = api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence?kind=raw", "viewer")
    assert raw.content != bus_jpg  # people blurred
    drawn = api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence", "viewer")
    assert drawn.headers["content-type"] == "image/jpeg"
    frame = cv2.imdecode(np.frombuffer(drawn.content, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape[1] == 810 and 1080 < frame.shape[0] < 1200  # the header band above the frame
    original = cv2.imdecode(np.frombuffer(bus_jpg, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(frame[-1080:].astype(int) - original.astype(int)).mean() > 1  # boxes were drawn
    # the same picture again: the same ticket, not a new one
    again = api.call("POST", "/api/v1/detect", "operator", data={"camera_id": "cam-bus"},
                     files={"files": ("again.jpg", bus_jpg, "image/jpeg")}).json()
    assert again["images"][0]["tickets"][0] == {**t, "created": False}
    assert tickets(api) == 1


def test_detections_only(api, detector, bus_jpg):
    api.gs.detector = detector
    r = api.call("POST", "/api/v1/detect?create_tickets=false", "ingest",
                 files=[("files", ("a.jpg", bus_jpg, "image/jpeg")), ("files", ("b.jpg", bus_jpg, "image/jpeg"))])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["create_tickets"] is False and len(body["images"]) == 2
    assert all(img["tickets"] == [] and "bus" in [d["class_name"] for d in img["detections"]] for img in body["images"])
    # without a camera no zone applies: parking rules cannot hold, and COCO sees no fire or garbage
    r = api.call("POST", "/api/v1/detect", "ingest", files={"files": ("a.jpg", bus_jpg, "image/jpeg")})
    assert r.json()["images"][0]["incidents"] == []
    assert tickets(api) == 0


def _png(w: int, h: int) -> bytes:
    return cv2.imencode(".png", np.zeros((h, w, 3), np.uint8))[1].tobytes()


def test_upload_limits_and_sniffing(api):
    """Rejected before any detector runs; nothing stored."""
    s = api.gs.settings
    ok_png = {"files": ("x.png", _png(100, 100), "image/png")}
    jpeg_head = cv2.imencode(".jpg", np.zeros((50, 50, 3), np.uint8))[1].tobytes()[:30]
    cases = {
        "pixels": (dict(upload_max_pixels=5000), ok_png, {}, 413),
        "bytes": (dict(upload_max_bytes=100), ok_png, {}, 413),
        "not an image": ({}, {"files": ("cat.jpg", b"<html>hello</html>", "image/jpeg")}, {}, 422),
        "truncated": ({}, {"files": ("cut.jpg", jpeg_head, "image/jpeg")}, {}, 422),
        "too many": ({}, [("files", (f"{i}.png", _png(10, 10), "image/png")) for i in range(9)], {}, 422),
        "half location": ({}, ok_png, {"lat": "31.2"}, 422),
        "unknown camera": ({}, ok_png, {"camera_id": "no-such-cam"}, 422),
    }
    limits = (s.upload_max_bytes, s.upload_max_pixels)
    for case, (caps, files, data, expect) in cases.items():
        s.upload_max_bytes, s.upload_max_pixels = limits
        for k, v in caps.items():
            setattr(s, k, v)
        r = api.call("POST", "/api/v1/detect", "operator", files=files, data=data)
        assert r.status_code == expect, (case, r.text)
    assert api.gs.detector is None  # never loaded: the input was refused first
    assert tickets(api) == 0


@pytest.fixture(scope="session")
def coco(shared_data):
    """The judge of who is a person: the COCO model from the shared data, at 0.25."""
    from models.detector import load_detector

    return load_detector("coco", conf=0.25)


def test_every_stored_image_of_an_upload_is_blurred_where_the_people_are(api, detector, coco, bus_jpg):
    from gridsight.evidence import crop_box
    from tests.evidence.blur import decode, unblurred

    api.gs.detector = detector
    api.call("PUT", "/api/v1/cameras/cam-bus", "admin", json={"name": "Bus stop"})
    api.call("PUT", "/api/v1/cameras/cam-bus/zones/stop", "admin",
             json={"kind": "no_parking", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "options": {"normalized": True}})
    r = api.call("POST", "/api/v1/detect", "operator", data={"camera_id": "cam-bus"},
                 files={"files": ("bus.jpg", bus_jpg, "image/jpeg")})
    assert r.status_code == 200, r.text
    (t,) = r.json()["images"][0]["tickets"]
    ticket = api.ticket(t["ticket_id"])
    original = decode(bus_jpg)
    people = [d["box"] for d in coco.detect([original])[0].of_classes(["person"]).to_list()]
    assert len(people) >= 3
    assert unblurred(original, original, people) == people  # the check sees an unblurred person
    kinds = set()
    for ref in ticket["evidence"]:
        stored = decode(api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence?kind={ref['kind']}",
                                 "viewer").content)
        kinds.add(ref["kind"])
        if ref["kind"] == "raw":
            shown, boxes = original, people
        elif ref["kind"] == "annotated":  # the frame under the header band
            stored, shown, boxes = stored[stored.shape[0] - original.shape[0]:], original, people
        else:  # the zoomed crop of the problem region
            x1, y1, x2, y2 = crop_box([d["box"] for d in ticket["detections"]], original.shape)
            shown = cv2.resize(original[y1:y2, x1:x2], stored.shape[1::-1])
            s = stored.shape[1] / (x2 - x1)
            boxes = [[(b[0] - x1) * s, (b[1] - y1) * s, (b[2] - x1) * s, (b[3] - y1) * s] for b in people
                     if b[2] > x1 and b[0] < x2 and b[3] > y1 and b[1] < y2]
            boxes = [[max(0, b[0]), max(0, b[1]), min(stored.shape[1], b[2]), min(stored.shape[0], b[3])]
                     for b in boxes]
        assert shown.shape == stored.shape, ref["kind"]
        assert unblurred(shown, stored, boxes) == [], f"{ref['kind']}: a person is recognisable"
    assert kinds == {"annotated", "raw", "crop"}


def test_an_unblurred_original_is_kept_only_when_set_and_shown_only_to_its_roles(api, detector, bus_jpg):
    api.gs.detector = detector
    api.gs.settings.keep_upload_originals = True
    api.call("PUT", "/api/v1/cameras/cam-bus", "admin", json={"name": "Bus stop"})
    api.call("PUT", "/api/v1/cameras/cam-bus/zones/stop", "admin",
             json={"kind": "no_parking", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "options": {"normalized": True}})
    r = api.call("POST", "/api/v1/detect", "operator", files={"files": ("bus.jpg", bus_jpg, "image/jpeg")},
                 data={"camera_id": "cam-bus"})
    (t,) = r.json()["images"][0]["tickets"]
    ticket = api.ticket(t["ticket_id"])
    assert {e["kind"] for e in ticket["evidence"]} == {"annotated", "raw", "crop", "original"}
    key = next(e["object_key"] for e in ticket["evidence"] if e["kind"] == "original")
    for role, status in (("viewer", 403), ("operator", 403), ("dispatcher", 200), ("admin", 200)):
        assert api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence?kind=original", role).status_code == status
        assert api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence?key={key}", role).status_code == status
    assert api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence?kind=original", "admin").content == bus_jpg
