"""The camera verifies every fix: a scripted camera scenario through the real detector, the
pipeline, the real ticket API (PostgreSQL, over loopback HTTP) and the real Mosquitto.

A bus parks in a fire lane: one ticket. It is resolved while the bus is still there: the
pipeline (woken by the API's MQTT status event) re-watches the lane and the API reopens the
ticket with fresh evidence and a history event saying the camera saw it. Resolved again after
the bus left: verified, with the "after" frame beside the "before" one. A camera that sends no
frames (or drops out) during the check leaves its ticket resolved, with the reason.
"""

from __future__ import annotations

import io
import socket
import time
from datetime import timedelta

import numpy as np
import pytest
import yaml
from PIL import Image

from gridsight.issues import Camera, Zone
from gridsight.paths import CONFIGS_DIR
from pipeline.runtime import Pipeline, PipelineOptions
from pipeline.verify import Verifier, VerifyOptions
from tests.api.conftest import LiveServer
from tests.loop.scene import LANE, T0, VTEST, PushedSource, Street

FPS = 5.0
NW = {"lat": 31.235, "lon": 121.465, "address": "Fire lane, 1 North-west Rd"}


@pytest.fixture(scope="module")
def detector(shared_data):
    from models.detector import load_detector

    return load_detector()


@pytest.fixture
def db_url(pg_url):
    return pg_url


@pytest.fixture
def issues(tmp_path):
    doc = yaml.safe_load((CONFIGS_DIR / "issues.yaml").read_text())
    doc["issue_types"]["fire_lane_blocked"]["rule"].update(persistence_s=3, dwell_s=3, clear_s=3, reopen_s=60)
    path = tmp_path / "issues.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


@pytest.fixture
def mqtt_push(api):
    """The API's push with MQTT to the local Mosquitto (how the pipeline learns of resolves)."""
    try:
        socket.create_connection(("127.0.0.1", 1883), timeout=2).close()
    except OSError:
        pytest.skip("no MQTT broker on 127.0.0.1:1883 (scripts/services.sh starts Mosquitto)")
    from api.push import Notifier, set_notifier

    notifier = Notifier(api.app.state.gs.engine, "127.0.0.1", 1883, retry_base_s=0.05).start()
    old = set_notifier(notifier)
    yield notifier
    set_notifier(old)
    notifier.close()


def wait_for(what, timeout: float = 60.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {getattr(what, '__name__', what)}")


class Footage:
    """Pushes the street at FPS and waits until the pipeline has judged every frame."""

    def __init__(self, source: PushedSource, proc, street: Street | None = None) -> None:
        self.source, self.proc, self.street = source, proc, street
        self.t = T0

    def play(self, seconds: float, bus: bool) -> None:
        for _ in range(int(round(seconds * FPS))):
            self.source.push(self.street.frame(bus), self.t)
            self.t += 1 / FPS
        wait_for(lambda: self.proc.stats.frames >= self.source.index, 120)


def camera(cid: str) -> Camera:
    return Camera(cid, "pushed://", "Fire lane test camera", NW, FPS, [Zone("lane", "fire_lane", LANE)])


def handle(api, tid: int) -> None:
    status = api.ticket(tid)["status"]
    for action in (["dispatch"] if status in ("new", "reopened") else []) + ["start", "resolve"]:
        api.act(tid, action)


def history(api, tid) -> list[dict]:
    return api.call("GET", f"/api/v1/tickets/{tid}/history", "viewer").json()


@pytest.mark.timeout(300)
def test_fire_lane_ticket_reopened_by_the_camera_then_verified(api, detector, issues, mqtt_push, tmp_path):
    if not VTEST.exists():
        pytest.skip("vtest.avi missing (Debian package opencv-doc)")
    street = Street()
    with LiveServer(api.app) as server:
        pipe = Pipeline(PipelineOptions(issues=issues, detector=detector, api_url=server.url,
                                        api_key=api.keys["ingest"], outbox=tmp_path / "outbox.db"))
        source = PushedSource("lane-cam")
        proc = pipe.add_camera(camera("lane-cam"), source)
        verifier = Verifier(server.url, api.keys["ingest"],
                            VerifyOptions(window_s=6, poll_s=3600, grace_s=120, mqtt_host="127.0.0.1"))
        verifier.attach(proc)
        verifier.start()
        try:
            assert verifier.subscribed.wait(15), "the verifier never subscribed to the API's MQTT events"
            footage = Footage(source, proc, street)

            # 1. a bus parks in the fire lane: one ticket, with evidence
            footage.play(1, bus=False)
            footage.play(11, bus=True)
            tickets = wait_for(lambda: api.call("GET", "/api/v1/tickets?camera=lane-cam", "viewer").json()["items"])
            assert len(tickets) == 1
            tid = tickets[0]["id"]
            first = api.ticket(tid)
            assert (first["issue_type"], first["zone_id"]) == ("fire_lane_blocked", "lane")
            assert [d["class_name"] for d in first["detections"]] == ["bus"]

            # 2. marked resolved while the bus is still there: the camera reopens it
            handle(api, tid)
            wait_for(verifier.active, 20)  # woken by the MQTT status event (the poll is an hour away)
            footage.play(8, bus=True)
            reopened = wait_for(lambda: (t := api.ticket(tid))["status"] == "reopened" and t, 60)
            assert reopened["reopen_count"] == 1
            assert {e["object_key"] for e in reopened["evidence"]} != {e["object_key"] for e in first["evidence"]}
            event = next(e for e in reversed(history(api, tid)) if e["action"] == "reopen")
            assert event["actor"] == "camera:lane-cam" and "still sees Fire lane blocked" in event["note"]

            # 3. resolved again after the bus left: verified, the after frame beside the before one
            api.clock.advance(timedelta(minutes=20))
            handle(api, tid)
            wait_for(verifier.active, 20)
            footage.play(8, bus=False)
            verified = wait_for(lambda: (t := api.ticket(tid))["status"] == "verified" and t, 60)
        finally:
            verifier.stop()
            source.end()
            pipe.close(drain_s=10)

    event = history(api, tid)[-1]
    assert (event["actor"], event["action"]) == ("camera:lane-cam", "verify") and "clear" in event["note"]
    checks = api.call("GET", f"/api/v1/tickets/{tid}/verifications", "viewer").json()
    assert [(c["method"], c["outcome"], c["applied"]) for c in checks] == [
        ("camera", "still_present", "reopen"), ("camera", "gone", "verify")]
    assert checks[0]["present_frames"] == checks[0]["frames"] >= 30
    assert checks[1]["present_frames"] == 0 and checks[1]["frames"] >= 30
    images = {i["kind"]: i for i in checks[1]["images"]}
    before_key = next(e["object_key"] for e in verified["evidence"] if e["kind"] == "annotated")
    assert images["before"]["object_key"] == before_key  # the camera's fresh evidence from the reopen
    pair = Image.open(io.BytesIO(api.call("GET", images["before_after"]["url"], "viewer").content))
    assert pair.size == (768 + 8 + 768, 576 + 36)  # the annotated frames: 576 rows under a 36-row header
    after = np.asarray(Image.open(io.BytesIO(api.call("GET", images["after_raw"]["url"], "viewer").content)))
    x, y = 60, 500 - street.bus.shape[0]
    region = (slice(y, 500), slice(x, x + street.bus.shape[1]))
    empty = street.frame(bus=False)[..., ::-1][region].astype(int)  # BGR -> RGB
    parked = street.frame(bus=True)[..., ::-1][region].astype(int)
    assert np.abs(after[region].astype(int) - empty).mean() < 8 < np.abs(after[region].astype(int) - parked).mean()
    assert len(api.call("GET", "/api/v1/tickets?camera=lane-cam", "viewer").json()["items"]) == 1


def _resolved(api, key: str) -> int:
    tid = api.incident(key=key, camera_id="off-cam", zone_id="lane", issue_type="fire_lane_blocked")["ticket_id"]
    handle(api, tid)
    return tid


@pytest.mark.timeout(120)
def test_a_camera_offline_during_the_check_leaves_the_ticket_resolved(api, detector, issues, tmp_path):
    with LiveServer(api.app) as server:
        pipe = Pipeline(PipelineOptions(issues=issues, detector=detector, deliver=False))
        source = PushedSource("off-cam")
        proc = pipe.add_camera(camera("off-cam"), source)
        verifier = Verifier(server.url, api.keys["ingest"], VerifyOptions(window_s=2, grace_s=1, poll_s=0.3))
        verifier.attach(proc)
        verifier.start()
        try:
            # no frame at all during the check
            silent = _resolved(api, "off-cam:fire_lane_blocked:lane:1")
            wait_for(lambda: history(api, silent)[-1]["action"] == "verification", 30)
            # frames, but a 20 s hole in the middle of the window
            api.clock.advance(timedelta(minutes=5))
            gap = _resolved(api, "off-cam:fire_lane_blocked:lane:2")
            wait_for(verifier.active, 10)
            blank = np.full((576, 768, 3), 90, np.uint8)
            source.push(blank, T0)
            source.push(blank, T0 + 20)
            wait_for(lambda: history(api, gap)[-1]["action"] == "verification", 30)
            # 10 minutes later the API asks again: the silent camera is checked a second time
            api.clock.advance(timedelta(minutes=6))
            wait_for(lambda: "check 2 of 3" in history(api, silent)[-1]["note"], 30)
        finally:
            verifier.stop()
            source.end()
            pipe.close(drain_s=0)
    for tid, why, checks in ((silent, "offline during the check (no frames; 0 frames", 2),
                             (gap, "sent no frame for 20 s", 1)):
        t = api.ticket(tid)
        last = history(api, tid)[-1]
        assert t["status"] == "resolved" and last["actor"] == "camera:off-cam" and why in last["note"], last
        found = api.call("GET", f"/api/v1/tickets/{tid}/verifications", "viewer").json()
        assert [(c["outcome"], c["applied"]) for c in found] == [("camera_offline", "note")] * checks
    assert api.call("GET", "/api/v1/verifications/pending", "ingest").json() == []


@pytest.mark.timeout(180)
def test_a_workers_leased_camera_verifies_and_hands_undecided_checks_over(api, detector, issues, tmp_path,
                                                                       monkeypatch):
    """pipeline/distributed: the cameras a worker holds by lease verify fixes as `gridsight watch`
    does. When a lease goes, the camera's undecided check is dropped unreported: the ticket stays
    pending and the camera's next holder checks it."""
    import redis

    import pipeline.sources
    from gridsight.settings import get_settings
    from pipeline.distributed.worker import LiveCameras

    r = redis.Redis.from_url("redis://127.0.0.1:6379/6")
    try:
        r.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379 (make test starts it: scripts/services.sh)")
    sources: list[PushedSource] = []

    def open_pushed(url, camera_id, **_):  # the worker opens its cameras through pipeline.sources
        sources.append(PushedSource(camera_id))
        return sources[-1]

    monkeypatch.setattr(pipeline.sources, "open_source", open_pushed)
    cfg = tmp_path / "cameras.yaml"
    cfg.write_text(yaml.safe_dump({"cameras": [{"id": "w-cam", "url": "pushed://", "location": NW, "detect_fps": FPS,
                                                "zones": [{"id": "lane", "kind": "fire_lane", "polygon": LANE}]}]}))
    pending = lambda: [p["ticket_id"] for p in  # noqa: E731
                       api.call("GET", "/api/v1/verifications/pending", "ingest").json()]
    with LiveServer(api.app) as server:
        for k, v in {"GRIDSIGHT_API_URL": server.url, "GRIDSIGHT_API_KEY": api.keys["ingest"],
                     "GRIDSIGHT_VERIFY_WINDOW_S": "2", "GRIDSIGHT_MQTT_HOST": ""}.items():
            monkeypatch.setenv(k, v)
        get_settings.cache_clear()
        live = LiveCameras(str(cfg), "worker-a", None, "cpu", r)
        live.pipeline = Pipeline(PipelineOptions(issues=issues, detector=detector, deliver=False))
        try:
            tid = api.incident(key="w-cam:fire_lane_blocked:lane:1", camera_id="w-cam", zone_id="lane",
                               issue_type="fire_lane_blocked")["ticket_id"]
            handle(api, tid)
            live.start("w-cam")
            wait_for(lambda: live.verifier is not None and live.verifier.active(), 20)
            live.stop("w-cam")  # the lease went before the check was decided
            assert live.verifier.active() == [] and "w-cam" not in live.verifier.procs
            assert pending() == [tid] and history(api, tid)[-1]["action"] == "resolve"  # nothing reported
            live.start("w-cam")  # the camera's next holder
            wait_for(lambda: live.verifier.active(), 20)
            for i in range(16):  # 3 s of an empty fire lane
                sources[-1].push(np.full((576, 768, 3), 90, np.uint8), T0 + i / FPS)
            verified = wait_for(lambda: (t := api.ticket(tid))["status"] == "verified" and t, 60)
        finally:
            live.close()
            get_settings.cache_clear()
    assert verified["status"] == "verified" and history(api, tid)[-1]["actor"] == "camera:w-cam"
    assert pending() == []
