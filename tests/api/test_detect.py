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
    assert {e["kind"] for e in ticket["evidence"]} == {"annotated", "raw"}
    raw = api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence?kind=raw", "viewer")
    assert raw.content == bus_jpg
    drawn = api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence", "viewer")
    assert drawn.headers["content-type"] == "image/jpeg"
    frame = cv2.imdecode(np.frombuffer(drawn.content, np.uint8), cv2.IMREAD_COLOR)
    assert frame.shape == (1080, 810, 3)
    original = cv2.imdecode(np.frombuffer(bus_jpg, np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(frame.astype(int) - original.astype(int)).mean() > 1  # boxes were drawn
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
