"""Verification by photo with the real detector (COCO YOLO11n from the shared data): an upload
ticket (a bus parked in a no-parking zone, from bus.jpg) is resolved; an "after" photo that still
shows the bus reopens it, a photo of the empty street verifies it with the before/after pair."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.evidence.blur import unblurred

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


@pytest.fixture(scope="module")
def detector(shared_data):
    from models.detector import load_detector

    return load_detector()


def _bus_path() -> Path:
    import ultralytics

    return Path(ultralytics.__file__).parent / "assets" / "bus.jpg"


bus_path = _bus_path()


@pytest.fixture(scope="module")
def bus_jpg() -> bytes:
    return bus_path.read_bytes()


@pytest.fixture(scope="module")
def empty_street() -> bytes:
    """A crop of an outdoor surveillance frame: pavement and a pedestrian, no vehicle."""
    if not VTEST.exists():
        pytest.skip("vtest.avi missing (Debian package opencv-doc)")
    cap = cv2.VideoCapture(str(VTEST))
    ok, frame = cap.read()
    cap.release()
    assert ok
    return cv2.imencode(".jpg", frame[200:576, 0:384])[1].tobytes()


@pytest.fixture
def db_url(pg_url):
    return pg_url


def _resolve(api, tid):
    t = api.ticket(tid)
    for action in (["dispatch"] if t["status"] in ("new", "reopened") else []) + ["start", "resolve"]:
        api.act(tid, action)


def _photo(api, tid, data: bytes, user: str = "handler"):
    return api.call("POST", f"/api/v1/tickets/{tid}/verify-photo", user,
                    files={"photo": ("after.jpg", data, "image/jpeg")}, data={"note": "checked on site"})


def test_after_photo_reopens_then_verifies(api, detector, bus_jpg, empty_street):
    api.gs.detector = detector
    api.call("PUT", "/api/v1/cameras/cam-bus", "admin",
             json={"name": "Bus stop", "location": {"lat": 31.235, "lon": 121.465, "address": "Stop 3"}})
    api.call("PUT", "/api/v1/cameras/cam-bus/zones/stop", "admin",
             json={"kind": "no_parking", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]], "options": {"normalized": True}})
    r = api.call("POST", "/api/v1/detect", "operator", data={"camera_id": "cam-bus"},
                 files={"files": ("bus.jpg", bus_jpg, "image/jpeg")})
    (made,) = r.json()["images"][0]["tickets"]
    tid = made["ticket_id"]
    first_evidence = api.ticket(tid)["evidence"]

    # not resolved yet: nothing to verify (and the detector is not even run)
    r = _photo(api, tid, bus_jpg)
    assert r.status_code == 409 and "resolved" in r.json()["detail"]
    _resolve(api, tid)

    # the bus is still there (seen from the other side): reopened, with the photo as fresh evidence
    still = cv2.imencode(".jpg", cv2.flip(cv2.imread(str(Path(bus_path))), 1))[1].tobytes()
    r = _photo(api, tid, still)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "still_present" and [d["class_name"] for d in out["counted"]] == ["bus"]
    assert out["ticket"]["status"] == "reopened" and out["ticket"]["reopen_count"] == 1
    assert out["ticket"]["evidence"] != first_evidence
    raw = api.call("GET", f"/api/v1/tickets/{tid}/evidence?kind=raw", "viewer")
    shown = cv2.imdecode(np.frombuffer(raw.content, np.uint8), cv2.IMREAD_COLOR)
    people = [d["box"] for d in out["detections"] if d["class_name"] == "person"]
    assert people and unblurred(cv2.imdecode(np.frombuffer(still, np.uint8), cv2.IMREAD_COLOR), shown, people) == []
    assert {e["kind"] for e in out["ticket"]["evidence"]} == {"annotated", "raw", "crop"}
    last = api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()[-1]
    assert (last["actor"], last["action"]) == ("handler", "reopen") and "still shows bus" in last["note"]

    # fixed: a photo of the street without the bus verifies it
    _resolve(api, tid)
    r = _photo(api, tid, empty_street)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "gone" and out["counted"] == []
    seen = {d["class_name"] for d in out["detections"]}
    assert not seen & {"bus", "car", "truck", "motorcycle"}  # what remains (people, ...) does not block a no-parking zone
    assert out["ticket"]["status"] == "verified"
    images = {i["kind"]: i for i in out["verification"]["images"]}
    assert set(images) == {"before", "after_raw", "after_annotated", "after_crop", "before_after"}
    pair = api.call("GET", images["before_after"]["url"], "viewer")
    before = Image.open(io.BytesIO(api.gs.store.get(images["before"]["object_key"])))
    after = Image.open(io.BytesIO(api.gs.store.get(images["after_annotated"]["object_key"])))
    w, h = Image.open(io.BytesIO(pair.content)).size
    assert h == min(720, max(before.height, after.height))
    assert abs(w - (round(before.width * h / before.height) + 8 + round(after.width * h / after.height))) <= 1
    raw_after = Image.open(io.BytesIO(api.call("GET", images["after_raw"]["url"], "viewer").content))
    assert raw_after.size == Image.open(io.BytesIO(empty_street)).size  # the photo, people blurred
    kinds = [(v["method"], v["outcome"], v["applied"]) for v in
             api.call("GET", f"/api/v1/tickets/{tid}/verifications", "viewer").json()]
    assert kinds == [("photo", "still_present", "reopen"), ("photo", "gone", "verify")]


def test_photo_checks_input_and_scope(api, detector, bus_jpg):
    api.gs.detector = detector
    tid = api.incident(key="upload:x:illegal_parking:any", source="upload")["ticket_id"]  # traffic police
    _resolve(api, tid)
    r = api.call("POST", f"/api/v1/tickets/{tid}/verify-photo", "handler",
                 files={"photo": ("a.jpg", b"not an image at all", "image/jpeg")})
    assert r.status_code == 422 and "JPEG" in r.text
    assert _photo(api, tid, bus_jpg, user="other_handler").status_code == 403  # another department
    assert _photo(api, tid, bus_jpg, user="viewer").status_code == 403
    assert api.ticket(tid)["status"] == "resolved"  # nothing changed
