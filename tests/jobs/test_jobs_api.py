"""POST/GET /api/v1/jobs on the real API process, with a real worker behind it."""

from __future__ import annotations

import time

import httpx

from tests.jobs.conftest import API_KEY
from tests.security.server import create_key
from tests.jobs.scene import CAMERA

START = "2026-04-01T08:00:00+00:00"


def test_jobs_api_submit_follow_list_cancel(job_env, clip, workers, ticket_api, tmp_path):
    http = httpx.Client(base_url=ticket_api.url, headers={"X-API-Key": API_KEY}, trust_env=False, timeout=30)
    body = {"camera_id": "cam-scene", "footage": [{"path": str(clip)}], "start_time": START,
            "options": {"segment_s": 50, "warmup_s": 80, "camera": CAMERA}}
    # who may submit, and what footage
    assert httpx.post(ticket_api.url + "/api/v1/jobs", json=body, trust_env=False).status_code == 401
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(clip.read_bytes())
    r = http.post("/api/v1/jobs", json={**body, "footage": [{"path": str(outside)}]})
    assert r.status_code == 403 and "allowed roots" in r.json()["detail"]
    r = http.post("/api/v1/jobs", json={**body, "footage": [{"path": str(clip.parent / "../" / clip.parent.name
                                                                          / "missing.mp4")}]})
    assert r.status_code == 422 and "no such file" in r.json()["detail"][0]["msg"]
    r = http.post("/api/v1/jobs", json={**body, "start_time": "2026-04-01T08:00:00"})
    assert r.status_code == 422  # footage time needs a timezone
    workers.start()
    r = http.post("/api/v1/jobs", json=body)
    assert r.status_code == 201, r.text
    job = r.json()
    assert job["status"] == "queued" and job["files"][0]["name"] == clip.name
    deadline = time.time() + 120
    seen_progress = False
    while time.time() < deadline:
        job = http.get(f"/api/v1/jobs/{job['id']}").json()
        seen_progress |= 0 < job["frames_done"] < job["frames_total"]
        if job["status"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.2)
    assert job["status"] == "done", job
    assert job["segments_done"] == job["segments_total"] >= 3 and job["incidents"] == 2
    assert job["progress"] == 1.0 and job["eta_s"] is None
    assert len(ticket_api.tickets(job["id"])) == 2
    assert any(j["id"] == job["id"] for j in http.get("/api/v1/jobs").json())
    r = http.post(f"/api/v1/jobs/{job['id']}/cancel")
    assert r.status_code == 409 and "already done" in r.json()["detail"]
    assert http.get("/api/v1/jobs/nope").status_code == 404


def test_readyz_and_metrics_show_workers_and_queue(job_env, workers, ticket_api, clip):
    from gridsight.jobs import JobStore

    w = workers.start()
    store = JobStore()
    deadline = time.time() + 30
    while time.time() < deadline and not any(k.endswith(f"-{w.pid}") for k in store.r.scan_iter(match="gs:worker:*")):
        time.sleep(0.2)
    assert httpx.get(ticket_api.url + "/readyz", trust_env=False).json()["jobs"] == {"queue": "ok"}
    admin = create_key(ticket_api.db.parent, f"sqlite:///{ticket_api.db}", "ops", "admin")  # workers: admins only
    ready = httpx.get(ticket_api.url + "/readyz", headers={"X-API-Key": admin}, trust_env=False).json()
    assert ready["jobs"]["queue"] == "ok"
    assert any(x["id"].endswith(f"-{w.pid}") for x in ready["jobs"]["workers"]), ready
    text = httpx.get(ticket_api.url + "/metrics", trust_env=False).text
    assert "gridsight_jobs_queue_depth" in text and "gridsight_workers " in text
    assert f'gridsight_worker_segments_total{{worker="' in text
