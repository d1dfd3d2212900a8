"""End to end: generated footage with a scripted event, through the real detector, the
pipeline (``gridsight process``) and the real ticket API: exactly the expected ticket.

The footage: a still camera view (a frame of vtest.avi) where a bus (cut from Ultralytics'
bus.jpg) parks on the lawn at 4 s, leaves at 14 s and comes back at 20 s. The lawn is a
no_parking zone; the test's rules shorten illegal parking to 3 s (dwell, persistence, clear).
Expected: one ticket, opened, closed, reopened under the same key, with evidence.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import cv2
import pytest
import yaml

from gridsight.paths import CONFIGS_DIR, REPO_ROOT
from tests.pipeline.conftest import INGEST_KEY

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
START = "2026-11-28T08:00:00+00:00"
T0 = datetime.fromisoformat(START).timestamp()
PRESENT = [(4.0, 14.0), (20.0, 26.0)]
LAWN = [[20, 420], [400, 420], [400, 570], [20, 570]]


def make_footage(path: Path, seconds: float = 26.0, fps: float = 10.0) -> None:
    import ultralytics

    bus = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    crop = bus[229:734, 10:798]  # the bus in bus.jpg
    crop = cv2.resize(crop, (260, round(260 * crop.shape[0] / crop.shape[1])), interpolation=cv2.INTER_AREA)
    cap = cv2.VideoCapture(str(VTEST))
    ok, background = cap.read()
    cap.release()
    assert ok, "vtest.avi unreadable"
    h, w = background.shape[:2]
    x, y = 60, 500 - crop.shape[0]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for i in range(int(seconds * fps)):
        t = i / fps
        frame = background.copy()
        if any(a <= t < b for a, b in PRESENT):
            frame[y:y + crop.shape[0], x:x + crop.shape[1]] = crop
        out.write(frame)
    out.release()


@pytest.mark.data
def test_footage_to_exactly_the_expected_ticket(tmp_path, ticket_api, shared_data):
    if not VTEST.exists():
        pytest.skip("vtest.avi missing (Debian package opencv-doc)")
    clip = tmp_path / "lawn.avi"
    make_footage(clip)
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(yaml.safe_dump({"cameras": [{
        "id": "e2e-cam", "name": "test lawn", "url": str(clip), "detect_fps": 5,
        "location": {"lat": 31.235, "lon": 121.465, "address": "Lawn, 1 North-west Rd"},
        "zones": [{"id": "lawn", "kind": "no_parking", "polygon": LAWN}]}]}))
    issues = yaml.safe_load((CONFIGS_DIR / "issues.yaml").read_text())
    issues["issue_types"]["illegal_parking"]["rule"].update(persistence_s=3, dwell_s=3, clear_s=3, reopen_s=60)
    (tmp_path / "issues.yaml").write_text(yaml.safe_dump(issues, allow_unicode=True))
    ticket_api.start()
    env = dict(ticket_api.env, GRIDSIGHT_API_URL=ticket_api.url, GRIDSIGHT_API_KEY=INGEST_KEY,
               GRIDSIGHT_HOME=str(tmp_path / "pipeline-home"), GRIDSIGHT_DATA=str(shared_data))
    run = subprocess.run([sys.executable, "-m", "gridsight.cli", "process", str(clip), "--camera", "e2e-cam",
                          "--config", str(cameras), "--issues", str(tmp_path / "issues.yaml"), "--start-time", START,
                          "--no-progress"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "everything delivered" in run.stdout, run.stdout

    tickets = ticket_api.tickets()
    assert len(tickets) == 1, tickets
    t = tickets[0]
    assert t["dedup_key"] == f"e2e-cam:illegal_parking:lawn:{int(T0 + 4)}"
    assert (t["issue_type"], t["camera_id"], t["zone_id"]) == ("illegal_parking", "e2e-cam", "lawn")
    assert t["incident_state"] == "open"  # it came back and is still there at the end
    assert t["seq"] >= 3  # open, close, open (and maybe better-evidence updates)
    assert {e["kind"] for e in t["evidence"]} == {"annotated", "raw", "crop"}  # the crop: made by the service
    assert [d["class_name"] for d in t["detections"]] == ["bus"]
    assert t["score"] > 0.5
    assert t["address"] == "Lawn, 1 North-west Rd"
    assert "1 opened, 1 closed" in run.stdout
