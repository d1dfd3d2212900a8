"""Worker and queue health, read from Redis (for ``/readyz``, ``/metrics`` and operators).

Workers publish a heartbeat ``gs:worker:<id>`` (JSON, expires after ``HEARTBEAT_TTL_S``):
concurrency, device, live cameras held, and running totals of segments and frames, from which
Prometheus' ``rate()`` gives segments/s and frames/s per worker. Queue depth is the length of
the Celery queue's Redis lists (one per priority step); ``unacked`` counts messages a worker
took and has not acknowledged yet (running, or lost with a killed worker until redelivered).
"""

from __future__ import annotations

import json
import threading
import time

PREFIX = "gs:"
HEARTBEAT_S = 5.0
HEARTBEAT_TTL_S = 20.0
PRIORITY_SEP = "\x06\x16"  # kombu's Redis transport names priority lists <queue><sep><step>


def queue_depth(r, queue: str = "gridsight") -> int:
    return sum(int(r.llen(q) or 0) for q in [queue] + [f"{queue}{PRIORITY_SEP}{p}" for p in (3, 6, 9)])


def workers(r) -> list[dict]:
    out = []
    for key in r.scan_iter(match=f"{PREFIX}worker:*", count=500):
        if key.count(":") != 2:
            continue
        raw = r.get(key)
        if raw:
            out.append({"id": key.split(":", 2)[2], **json.loads(raw)})
    return sorted(out, key=lambda w: w["id"])


def snapshot(r, queue: str = "gridsight") -> dict:
    """One read of everything: {queue_depth, unacked, workers: [...], jobs: {status: n}}."""
    jobs: dict[str, int] = {}
    ids = r.zrevrange(f"{PREFIX}jobs", 0, 999)
    if ids:
        pipe = r.pipeline()
        for j in ids:
            pipe.hget(f"{PREFIX}job:{j}", "status")
        for status in pipe.execute():
            if status:
                jobs[status] = jobs.get(status, 0) + 1
    return {"queue_depth": queue_depth(r, queue), "unacked": int(r.hlen("unacked") or 0),
            "workers": workers(r), "jobs": jobs}


def count_segment(r, worker_id: str, frames: int, seconds: float) -> None:
    """Add one finished segment to the worker's totals (read by its heartbeat)."""
    pipe = r.pipeline()
    pipe.hincrby(f"{PREFIX}workerstats:{worker_id}", "segments", 1)
    pipe.hincrby(f"{PREFIX}workerstats:{worker_id}", "frames", int(frames))
    pipe.hincrbyfloat(f"{PREFIX}workerstats:{worker_id}", "busy_s", float(seconds))
    pipe.expire(f"{PREFIX}workerstats:{worker_id}", 7 * 86400)
    pipe.execute()


class Heartbeat:
    """Publishes this worker's heartbeat every ``HEARTBEAT_S`` until stopped."""

    def __init__(self, r, worker_id: str, info: dict, cameras=lambda: []) -> None:
        self.r, self.worker_id, self.info, self.cameras = r, worker_id, info, cameras
        self.started = time.time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def beat(self) -> None:
        stats = self.r.hgetall(f"{PREFIX}workerstats:{self.worker_id}") or {}
        doc = {**self.info, "cameras": sorted(self.cameras()), "started": self.started, "time": time.time(),
               "segments": int(stats.get("segments", 0)), "frames": int(stats.get("frames", 0)),
               "busy_s": round(float(stats.get("busy_s", 0.0)), 3)}
        self.r.set(f"{PREFIX}worker:{self.worker_id}", json.dumps(doc), px=int(HEARTBEAT_TTL_S * 1000))

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.beat()
            except Exception:  # Redis away: the heartbeat simply lapses
                pass
            self._stop.wait(HEARTBEAT_S)

    def start(self) -> "Heartbeat":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=HEARTBEAT_S + 1)
        try:
            self.r.delete(f"{PREFIX}worker:{self.worker_id}")
        except Exception:
            pass


def metric_families(r, queue: str = "gridsight"):
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
