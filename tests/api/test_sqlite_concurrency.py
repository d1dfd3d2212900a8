"""SQLite under parallel requests: reads and reviews of one ticket never stall on the write lock.

A read used to open ``BEGIN IMMEDIATE`` (the write lock) and keep it until the request's session
closed, after the endpoint's thread had returned; other requests then filled every worker thread
waiting for that lock, the holder got no thread to finish on, and all waited out the 30 s busy
timeout ("database is locked"). Real uvicorn, a small thread pool, a SQLite file.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from api.app import create_app
from api.services.clock import ManualClock
from api.storage.objects import LocalStore
from tests.api.conftest import NW, START, LiveServer, add_users, make_settings

ROUNDS = 6
PARALLEL = 14


def test_parallel_reads_and_reviews_do_not_wait_for_the_lock(tmp_path):
    clock = ManualClock(START)
    settings = make_settings(f"sqlite:///{tmp_path / 'gs.db'}", tmp_path, api_threads=2)
    app = create_app(settings, clock=clock, store=LocalStore(tmp_path / "evidence", secret="test"), escalation=False)
    with LiveServer(app, lifespan="on") as server, httpx.Client(base_url=server.url, timeout=10) as client:
        keys, _ = add_users(app, clock)
        h = {"X-API-Key": keys["admin"]}
        body = {"key": "cam-01:illegal_parking:kerb:1", "seq": 1, "event": "open", "issue_type": "illegal_parking",
                "source": "camera", "camera_id": "cam-01", "zone_id": "kerb", "score": 0.8,
                "first_seen": clock.now().isoformat(), "last_seen": clock.now().isoformat(),
                "detections": [{"class_name": "car", "score": 0.8, "box": [10, 20, 110, 220], "track_id": 3}],
                "location": NW}
        r = client.post("/api/v1/incidents", json=body, headers={"X-API-Key": keys["ingest"]})
        assert r.status_code in (200, 201), r.text
        t = f"/api/v1/tickets/{r.json()['ticket_id']}"
        calls = [("GET", t), ("GET", t + "/history"), ("GET", t + "/feedback"), ("GET", t + "/review"),
                 ("GET", t + "/verifications"), ("GET", t + "/evidence"),
                 ("POST", t + "/review")]

        def fire(i: int) -> tuple[int, float]:
            method, url = calls[i % len(calls)]
            began = time.monotonic()
            r = client.request(method, url, headers=h, json={"verdict": "confirmed"} if method == "POST" else None)
            return r.status_code, time.monotonic() - began

        with ThreadPoolExecutor(PARALLEL) as pool:
            for _ in range(ROUNDS):
                results = list(pool.map(fire, range(PARALLEL)))
                assert all(code < 500 for code, _ in results), results
                assert max(s for _, s in results) < 5, results
