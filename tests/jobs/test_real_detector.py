"""The demo camera's real footage through the real detector: two workers, cut into segments,
find exactly the tickets of one in-process pass.

The warm-up (65 s) covers illegal parking's persistence and dwell (60 s): with less, a car that
was parked before a segment's warm-up began is first seen later there than in one pass, and
its incident gets a later key (docs/distributed.md, "How a job runs")."""

from __future__ import annotations

import pytest
import yaml

from gridsight.paths import CONFIGS_DIR
from tests.jobs.test_distributed import start_time, wait_final

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


@pytest.mark.data
def test_vtest_on_two_workers_equals_one_pass(job_env, shared_data, workers, ticket_api):
    from pathlib import Path

    if not Path(VTEST).is_file():
        pytest.skip("vtest.avi missing: install Debian's opencv-doc")
    from gridsight.jobs import JobStore
    from pipeline.distributed.local import run_local
    from pipeline.distributed.segment import load_job_detector
    from pipeline.distributed.tasks import plan_job

    cams = yaml.safe_load((CONFIGS_DIR / "cameras.yaml").read_text())["cameras"]
    east = next(c for c in cams if c["id"] == "campus-east")
    camera = {"detect_fps": 2, "zones": east["zones"]}  # 2/s keeps the test short
    start = start_time(30)
    workers.start(detector=None)
    workers.start(detector=None)
    expected = run_local([VTEST], "campus-east", start, {"camera": camera}, detector=load_job_detector(None),
                         deliver_fn=lambda posts: None)["keys"]
    assert expected, "the demo camera's zones make at least one incident on vtest.avi"
    store = JobStore()
    job_id = store.create("campus-east", [{"path": VTEST}], start,
                          {"camera": camera, "segment_s": 25, "warmup_s": 65})
    plan_job.delay(job_id)
    job = wait_final(store, job_id, timeout=240)
    assert job.status == "done", job.error
    assert job.segments_total == 3  # keyframes every 25 s
    segments = [store.result(job_id, i) for i in range(job.segments_total)]
    seen = [(s["segment"], s.get("worker"), s["sampled"], s["detected"],
             [(r["key"], r["first_seen"]) for r in s["incidents"]]) for s in segments]
    assert all(s["detected"] == s["sampled"] for s in segments), f"frames left undetected: {seen}"
    assert sorted(t["dedup_key"] for t in ticket_api.tickets(job_id)) == expected, f"segments: {seen}"
