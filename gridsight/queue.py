"""The archive-job queue: the Celery set-up, its task names, and its health as read from Redis.

One Celery configuration (Redis broker from ``settings.redis_url``, at-least-once delivery) for
both ends: the workers (``pipeline/distributed/app.py``) consume with it, the API sends with it
by task *name* (:func:`send`), so the API never imports the code behind a task.

* ``task_acks_late`` + ``task_reject_on_worker_lost``: a segment's message is acknowledged only
  after the segment's result is stored, so a worker killed mid-segment (even by SIGKILL) leaves
  the message unacknowledged and the broker hands it to another worker;
* ``worker_prefetch_multiplier=1``: a worker reserves one segment per process, never a backlog
  that would wait behind a long segment (or be lost with it);
* ``visibility_timeout`` (``settings.jobs_visibility_timeout_s``): how long an unacknowledged
  message waits before the Redis transport redelivers it. It must be longer than the slowest
  segment (a segment still running when it expires runs twice: harmless, results are
  idempotent, but wasted work). ``unacked_restore_interval`` sweeps for such messages.

No result backend: job state lives in :mod:`gridsight.jobs` keys.

Health: workers publish a heartbeat ``gs:worker:<id>`` (JSON, expires after ``HEARTBEAT_TTL_S``):
concurrency, device, live cameras held, and running totals of segments and frames, from which
Prometheus' ``rate()`` gives segments/s and frames/s per worker. Queue depth is the length of
the Celery queue's Redis lists (one per priority step); ``unacked`` counts messages a worker
took and has not acknowledged yet (running, or lost with a killed worker until redelivered).
"""

from __future__ import annotations

import json

from gridsight.jobs import PREFIX, JobStore

QUEUE = "gridsight"
PLAN_JOB = "gridsight.plan_job"  # task names: what the API may send without importing the tasks
RUN_SEGMENT = "gridsight.run_segment"
COMMIT_JOB = "gridsight.commit_job"
HEARTBEAT_S = 5.0
HEARTBEAT_TTL_S = 20.0
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport names priority lists <queue><sep><step>


def celery_app(redis_url: str | None = None, visibility_timeout_s: int | None = None, include: tuple = ()):
    """The Celery application (``include``: the task modules a worker loads)."""
    from celery import Celery

    from gridsight.settings import get_settings

    s = get_settings()
    url = redis_url or s.redis_url
    vt = int(visibility_timeout_s or s.jobs_visibility_timeout_s)
    app = Celery("gridsight", broker=url, include=list(include))
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "visibility_timeout": vt,
            "unacked_restore_interval": max(1, min(10, vt // 4)),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


_sender = None


def send(task: str, *args) -> None:
    """Queue task ``task`` (one of the names above) with ``args``, from a process without the tasks."""
    global _sender
    if _sender is None:
        _sender = celery_app()
    _sender.send_task(task, args=list(args))


def worker_key(worker_id: str) -> str:
    return f"{PREFIX}worker:{worker_id}"


def lease_key(camera_id: str) -> str:
    """The lease of a live camera: ``gs:lease:<camera>`` holds the id of the worker watching it."""
    return f"{PREFIX}lease:{camera_id}"


def holders(r, cameras: list[str]) -> dict[str, str | None]:
    """Who holds each camera's lease now."""
    vals = r.mget([lease_key(c) for c in cameras]) if cameras else []
    return dict(zip(cameras, vals))


def queue_depth(r, queue: str = QUEUE) -> int:
    return sum(int(r.llen(q) or 0) for q in [queue] + [f"{queue}{PRIORITY_SEP}{p}" for p in (3, 6, 9)])


def workers(r) -> list[dict]:
    out = []
    for key in r.scan_iter(match=worker_key("*"), count=500):
        if key.count(":") != 2:
            continue
        raw = r.get(key)
        if raw:
            out.append({"id": key.split(":", 2)[2], **json.loads(raw)})
    return sorted(out, key=lambda w: w["id"])


def snapshot(r, queue: str = QUEUE) -> dict:
    """One read of everything: {queue_depth, unacked, workers: [...], jobs: {status: n}}."""
    jobs: dict[str, int] = {}
    ids = r.zrevrange(f"{PREFIX}jobs", 0, 999)
    if ids:
        pipe = r.pipeline()
        for j in ids:
            pipe.hget(JobStore.key(j), "status")
        for status in pipe.execute():
            if status:
                jobs[status] = jobs.get(status, 0) + 1
    return {"queue_depth": queue_depth(r, queue), "unacked": int(r.hlen("unacked") or 0),
            "workers": workers(r), "jobs": jobs}


def metric_families(r, queue: str = QUEUE):
    """Prometheus metric families (``prometheus_client.core``) of the job cluster."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    snap = snapshot(r, queue)
    depth = GaugeMetricFamily("gridsight_jobs_queue_depth", "Segment/plan messages waiting in the job queue")
    depth.add_metric([], snap["queue_depth"])
    unacked = GaugeMetricFamily("gridsight_jobs_unacked", "Messages taken by workers, not yet acknowledged")
    unacked.add_metric([], snap["unacked"])
    alive = GaugeMetricFamily("gridsight_workers", "Workers with a live heartbeat")
    alive.add_metric([], len(snap["workers"]))
    jobs = GaugeMetricFamily("gridsight_jobs", "Archive jobs by status (newest 1000)", labels=["status"])
    for status, n in sorted(snap["jobs"].items()):
        jobs.add_metric([status], n)
    segs = CounterMetricFamily("gridsight_worker_segments", "Segments finished per worker", labels=["worker"])
    frames = CounterMetricFamily("gridsight_worker_frames", "Footage frames processed per worker", labels=["worker"])
    cams = GaugeMetricFamily("gridsight_worker_cameras", "Live cameras leased per worker", labels=["worker"])
    for w in snap["workers"]:
        segs.add_metric([w["id"]], w.get("segments", 0))
        frames.add_metric([w["id"]], w.get("frames", 0))
        cams.add_metric([w["id"]], len(w.get("cameras", [])))
    return [depth, unacked, alive, jobs, segs, frames, cams]
