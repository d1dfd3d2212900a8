"""A worker's side of queue health: its heartbeat and running totals (read by :mod:`gridsight.queue`).

Each worker publishes ``gs:worker:<id>`` every ``HEARTBEAT_S`` (concurrency, device, live cameras
held, totals of segments, frames and busy seconds); the API's ``/readyz`` and ``/metrics`` read
them through :func:`gridsight.queue.snapshot`.
"""

from __future__ import annotations

import json
import threading
import time

from gridsight.jobs import PREFIX
from gridsight.queue import HEARTBEAT_S, HEARTBEAT_TTL_S, worker_key


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
        self.r.set(worker_key(self.worker_id), json.dumps(doc), px=int(HEARTBEAT_TTL_S * 1000))

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
            self.r.delete(worker_key(self.worker_id))
        except Exception:
            pass
