"""Archive-job state in Redis: what a job is, how far it got, and its segments' results.

Everything a job needs to finish lives in Redis (the broker's server), not in the API or a
worker's memory, so the API can restart mid-job and any worker can pick up any segment. Both
sides use this one schema: the API records and reads jobs, the workers (``pipeline/distributed``)
plan, run and commit them; neither imports the other.

Keys (``gs:`` prefix, all in the database of ``settings.redis_url``)::

    gs:jobs                      zset   job id -> created (unix), for listing
    gs:job:<id>                  hash   the job: status, camera, files, options, counters, error
    gs:job:<id>:plan             string JSON list of segments (written once by the planner)
    gs:job:<id>:file:<i>         string JSON probe of file i (frame times, keyframes)
    gs:job:<id>:camera           string JSON camera snapshot (detect_fps, zones)
    gs:job:<id>:seg:<n>          string JSON result of segment n (first writer wins: SET NX)
    gs:job:<id>:frames           hash   segment n -> frames processed so far (progress, ETA)
    gs:job:<id>:stitch           string JSON stitching state after the last committed segment
    gs:job:<id>:commit           string commit lock (SET NX PX), one committer at a time

Counters only move when a result is first stored (SET NX succeeded), so a segment run twice
(a worker killed mid-segment, the message redelivered) is counted once.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import redis

PREFIX = "gs:"
STATUSES = ("queued", "planning", "running", "done", "failed", "cancelled")
FINAL = ("done", "failed", "cancelled")
JOB_TTL_S = 30 * 86400  # finished jobs' keys expire after a month


def connect(url: str | None = None) -> redis.Redis:
    if url is None:
        from gridsight.settings import get_settings

        url = get_settings().redis_url
    return redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=5, socket_timeout=30)


@dataclass
class JobView:
    """A job as the API and CLI show it."""

    id: str
    status: str
    camera_id: str
    files: list[dict]
    start_time: str
    options: dict
    created: float
    started: float | None
    finished: float | None
    error: str | None
    segments_total: int
    segments_done: int
    segments_committed: int
    frames_total: int
    frames_done: int
    incidents: int

    @property
    def eta_s(self) -> float | None:
        if self.status != "running" or not self.started or not self.frames_done or not self.frames_total:
            return None
        rate = self.frames_done / max(1e-3, time.time() - self.started)
        return round(max(0, self.frames_total - self.frames_done) / rate, 1)

    def to_dict(self) -> dict:
        d = dict(vars(self))
        d["eta_s"] = self.eta_s
        d["progress"] = round(self.frames_done / self.frames_total, 4) if self.frames_total else 0.0
        return d


class JobStore:
    def __init__(self, r: redis.Redis | None = None) -> None:
        self.r = r if r is not None else connect()

    # --- keys -------------------------------------------------------------
    @staticmethod
    def key(job_id: str, part: str = "") -> str:
        return f"{PREFIX}job:{job_id}" + (f":{part}" if part else "")

    # --- create / read ------------------------------------------------------
    def create(self, camera_id: str, files: list[dict], start_time: str, options: dict | None = None,
               job_id: str | None = None) -> str:
        job_id = job_id or uuid.uuid4().hex[:16]
        now = time.time()
        doc = {"id": job_id, "status": "queued", "camera_id": camera_id, "files": json.dumps(files),
               "start_time": start_time, "options": json.dumps(options or {}), "created": now,
               "segments_total": 0, "segments_done": 0, "segments_committed": 0,
               "frames_total": 0, "incidents": 0}
        pipe = self.r.pipeline()
        pipe.hset(self.key(job_id), mapping=doc)
        pipe.zadd(f"{PREFIX}jobs", {job_id: now})
        pipe.execute()
        return job_id

    def get(self, job_id: str) -> JobView | None:
        h = self.r.hgetall(self.key(job_id))
        if not h:
            return None
        frames = self.r.hvals(self.key(job_id, "frames"))

        def num(k, cast=int, default=None):
            return cast(float(h[k])) if h.get(k) not in (None, "") else default

        return JobView(h["id"], h["status"], h["camera_id"], json.loads(h["files"]), h["start_time"],
                       json.loads(h.get("options") or "{}"), float(h["created"]), num("started", float),
                       num("finished", float), h.get("error") or None, num("segments_total", default=0),
                       num("segments_done", default=0), num("segments_committed", default=0),
                       num("frames_total", default=0), sum(int(v) for v in frames), num("incidents", default=0))

    def list(self, limit: int = 50, offset: int = 0) -> list[JobView]:
        ids = self.r.zrevrange(f"{PREFIX}jobs", offset, offset + limit - 1)
        return [j for j in (self.get(i) for i in ids) if j is not None]

    def status(self, job_id: str) -> str | None:
        return self.r.hget(self.key(job_id), "status")

    # --- transitions --------------------------------------------------------
    _SET_IF = """
    local cur = redis.call('HGET', KEYS[1], 'status')
    if not cur then return nil end
    for i = 2, #ARGV do if cur == ARGV[i] then
        redis.call('HSET', KEYS[1], 'status', ARGV[1])
        return cur
    end end
    return false
    """

    def transition(self, job_id: str, to: str, allowed_from: tuple[str, ...], **fields) -> bool:
        """Set the status atomically when the current one is in ``allowed_from``."""
        ok = self.r.eval(self._SET_IF, 1, self.key(job_id), to, *allowed_from)
        if ok and fields:
            self.r.hset(self.key(job_id), mapping={k: v for k, v in fields.items() if v is not None})
        if ok and to in FINAL:
            self.r.hset(self.key(job_id), "finished", time.time())
            for key in self.r.scan_iter(match=self.key(job_id) + "*", count=500):
                self.r.expire(key, JOB_TTL_S)
        return bool(ok)

    def fail(self, job_id: str, reason: str) -> bool:
        return self.transition(job_id, "failed", ("queued", "planning", "running"), error=reason[:2000])

    def cancel(self, job_id: str) -> bool:
        return self.transition(job_id, "cancelled", ("queued", "planning", "running"), error="cancelled by request")

    def is_active(self, job_id: str) -> bool:
        return self.status(job_id) in ("queued", "planning", "running")

    # --- plan and segments --------------------------------------------------
    def save_plan(self, job_id: str, segments: list[dict], frames_total: int, *, files: list[dict],
                  camera: dict) -> bool:
        """Store the plan once (files probed, camera snapshot, segments); False when another
        planner got there first (a redelivered plan message)."""
        if self.r.exists(self.key(job_id, "plan")):
            return False
        pipe = self.r.pipeline()
        for i, info in enumerate(files):
            pipe.set(self.key(job_id, f"file:{i}"), json.dumps(info))
        pipe.set(self.key(job_id, "camera"), json.dumps(camera))
        pipe.hset(self.key(job_id), mapping={"segments_total": len(segments), "frames_total": frames_total,
                                             "started": time.time()})
        pipe.set(self.key(job_id, "plan"), json.dumps(segments), nx=True)
        pipe.execute()
        return True

    def plan(self, job_id: str) -> list[dict]:
        raw = self.r.get(self.key(job_id, "plan"))
        return json.loads(raw) if raw else []

    def file_info(self, job_id: str, file_index: int) -> dict:
        return json.loads(self.r.get(self.key(job_id, f"file:{file_index}")))

    def camera(self, job_id: str) -> dict:
        return json.loads(self.r.get(self.key(job_id, "camera")))

    def progress(self, job_id: str, segment: int, frames: int) -> None:
        self.r.hset(self.key(job_id, "frames"), str(segment), frames)

    def save_result(self, job_id: str, segment: int, result: dict) -> bool:
        """Store a segment's result; only the first store counts (idempotent redelivery)."""
        first = self.r.set(self.key(job_id, f"seg:{segment}"), json.dumps(result), nx=True, ex=JOB_TTL_S)
        if first:
            self.r.hincrby(self.key(job_id), "segments_done", 1)
        return bool(first)

    def result(self, job_id: str, segment: int) -> dict | None:
        raw = self.r.get(self.key(job_id, f"seg:{segment}"))
        return json.loads(raw) if raw else None

    # --- commit ------------------------------------------------------------
    def lock_commit(self, job_id: str, token: str, ttl_ms: int = 120_000) -> bool:
        return bool(self.r.set(self.key(job_id, "commit"), token, nx=True, px=ttl_ms))

    def unlock_commit(self, job_id: str, token: str) -> None:
        self.r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                    1, self.key(job_id, "commit"), token)

    def stitch_state(self, job_id: str) -> dict | None:
        raw = self.r.get(self.key(job_id, "stitch"))
        return json.loads(raw) if raw else None

    def advance(self, job_id: str, committed: int, stitch: dict) -> None:
        """Record that segments ``< committed`` are delivered, with the stitch state after them."""
        pipe = self.r.pipeline()
        pipe.set(self.key(job_id, "stitch"), json.dumps(stitch))
        pipe.hset(self.key(job_id), mapping={"segments_committed": committed, "incidents": len(stitch["keys"])})
        pipe.execute()

    def purge(self, job_id: str) -> None:
        """Delete a job's keys (tests and admin clean-up)."""
        keys = list(self.r.scan_iter(match=self.key(job_id) + "*", count=500))
        if keys:
            self.r.delete(*keys)
        self.r.zrem(f"{PREFIX}jobs", job_id)
