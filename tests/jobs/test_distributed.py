"""Archive jobs on real Redis, real worker processes and the real ticket API."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from tests.jobs.conftest import camera_options
from tests.jobs.scene import ColorDetector

DAY = 86400


def start_time(day: int) -> str:
    """A footage start time per test: incident keys carry footage time, so tests never share tickets."""
    return datetime.fromtimestamp(datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc).timestamp() + day * DAY,
                                  timezone.utc).isoformat()
# 150 s clip cut into ~25 s segments, each warmed up over 80 s (> illegal parking's 60 s dwell
# plus the tracker settling), so each segment rebuilds what a single pass would know.
SEGMENTED = dict(segment_s=25, warmup_s=80)


def submit(clip_paths, start, **options):
    from gridsight.jobs import JobStore
    from pipeline.distributed.tasks import plan_job

    store = JobStore()
    files = [{"path": str(p), "name": p.name} for p in clip_paths]
    job_id = store.create("cam-scene", files, start, camera_options(**options))
    plan_job.delay(job_id)
    return store, job_id


def wait_final(store, job_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = store.get(job_id)
        if job.status in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} still {store.get(job_id).status} after {timeout} s: {store.get(job_id)}")


def local_keys(clip, start) -> list[str]:
    from pipeline.distributed.local import run_local

    posts = []
    summary = run_local([str(clip)], "cam-scene", start, camera_options(), detector=ColorDetector(),
                        deliver_fn=posts.extend)
    assert posts, "the scripted scene must make incidents"
    return summary["keys"]


def test_segmented_job_on_two_workers_equals_single_process(job_env, clip, workers, ticket_api):
    expected = local_keys(clip, start_time(1))
    assert len(expected) == 2  # the car in the fire lane, the truck in the no-parking bay
    workers.start()
    workers.start()
    store, job_id = submit([clip], start_time(1), **SEGMENTED)
    job = wait_final(store, job_id)
    assert job.status == "done", job.error
    assert job.segments_total >= 5 and job.segments_committed == job.segments_total
    assert job.frames_done == job.frames_total == 1500
    ran_on = {store.result(job_id, i)["worker"] for i in range(job.segments_total)}
    assert len(ran_on) == 2, f"both workers should have run segments: {ran_on}"
    tickets = ticket_api.tickets(job_id)
    assert sorted(t["dedup_key"] for t in tickets) == expected
    assert job.incidents == len(expected)
    assert all(t["evidence"] not in (None, "[]") for t in tickets), "every ticket has its evidence"


def test_sigkill_mid_job_same_tickets_none_doubled(job_env, clip, workers, ticket_api, tmp_path):
    import shutil

    expected = local_keys(clip, start_time(2))
    copy = tmp_path / "scene-copy.mp4"  # another file name: another job, same footage
    shutil.copy(clip, copy)
    victim = workers.start()
    store, job_id = submit([copy], start_time(2), **SEGMENTED)
    deadline = time.time() + 60
    while time.time() < deadline and not store.r.hlen(store.key(job_id, "frames")):
        time.sleep(0.05)
    workers.kill(victim)  # SIGKILL mid-segment: its message stays unacknowledged
    killed_at = store.get(job_id)
    assert killed_at.status == "running" and killed_at.segments_committed < killed_at.segments_total
    workers.start()
    job = wait_final(store, job_id, timeout=150)
    assert job.status == "done", job.error
    tickets = ticket_api.tickets(job_id)
    keys = [t["dedup_key"] for t in tickets]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == expected


def test_cancel_stops_the_job(job_env, clip, workers, ticket_api):
    workers.start()
    store, job_id = submit([clip], start_time(3), **SEGMENTED)
    deadline = time.time() + 60
    while time.time() < deadline and store.get(job_id).status != "running":
        time.sleep(0.05)
    assert store.cancel(job_id)
    assert not store.cancel(job_id), "cancelling twice is refused"
    time.sleep(3)
    job = store.get(job_id)
    assert job.status == "cancelled" and job.segments_done < job.segments_total
    done_after_cancel = job.segments_done
    time.sleep(2)
    assert store.get(job_id).segments_done == done_after_cancel, "no segment runs after cancel"


def test_missing_or_corrupt_file_fails_clearly_others_continue(job_env, clip, workers, ticket_api, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    workers.start()
    store, good = submit([clip], start_time(4), **SEGMENTED)
    _, missing = submit([tmp_path / "nope.mp4"], start_time(5))
    _, bad = submit([clip, corrupt], start_time(6))
    for job_id, what in ((missing, "no such file"), (bad, "corrupt.mp4")):
        job = wait_final(store, job_id)
        assert job.status == "failed"
        assert what in job.error, job.error
    assert "not a readable video" in store.get(bad).error or "no decodable" in store.get(bad).error
    job = wait_final(store, good)
    assert job.status == "done", job.error
    assert len(ticket_api.tickets(good)) == 2


def test_ticket_api_down_then_restarted_mid_job_loses_and_doubles_nothing(job_env, clip, workers, tmp_path):
    """The job runs on while the API is down (results wait in Redis); after the API restarts,
    the commit retries deliver every incident once."""
    import signal

    from tests.jobs.conftest import start_api

    api = start_api(job_env, tmp_path / "tickets.db", clip)
    port = api.url.rsplit(":", 1)[1]
    env = dict(job_env, GRIDSIGHT_API_URL=api.url)
    workers.env = env
    expected = local_keys(clip, start_time(7))
    workers.start()
    workers.start()
    api.proc.send_signal(signal.SIGKILL)  # the API dies before the job is submitted to the queue
    api.proc.wait(10)
    store, job_id = submit([clip], start_time(7), **SEGMENTED)
    deadline = time.time() + 90
    while time.time() < deadline:
        job = store.get(job_id)
        if job.segments_total and job.segments_done == job.segments_total:
            break
        time.sleep(0.3)
    job = store.get(job_id)
    assert job.segments_total and job.segments_done == job.segments_total, "segments run without the API"
    assert job.status == "running" and job.segments_committed < job.segments_total, "incidents wait for the API"
    api = start_api(job_env, tmp_path / "tickets.db", clip, port=int(port))
    try:
        job = wait_final(store, job_id, timeout=60)
        assert job.status == "done", job.error
        keys = [t["dedup_key"] for t in api.tickets(job_id)]
        assert sorted(keys) == expected
    finally:
        api.proc.terminate()
        api.proc.wait(10)
