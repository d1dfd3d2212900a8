"""Live cameras across machines: each camera watched by exactly one worker, through leases.

A lease is a Redis key ``gs:lease:<camera>`` holding the worker's id with a TTL. Every
``ttl_s / 3`` a worker's :class:`LeaseKeeper`

1. renews the leases it holds (only if the key still holds *its* id: a compare-and-expire
   script), and stops watching any camera whose lease it lost;
2. stops watching a camera when its *local deadline* passed: the time before its last
   successful renewal was *sent*, plus ``ttl_s - margin_s``. Redis started the key's TTL after
   that send time, so the old holder always stops before the key can expire and another worker
   claim it (Redis unreachable included): a camera is never watched twice at once;
3. claims free cameras (``SET NX PX``) up to its capacity, in an order spread by worker id so
   workers do not all fight for the same camera first.

When a worker dies its leases expire and other workers claim the cameras on their next tick:
failover takes at most ``ttl_s + ttl_s / 3`` (20 s with the default 15 s TTL).
A clean shutdown releases the leases at once.

>>> keeper = LeaseKeeper(redis_client, "w1", capacity=4, cameras=lambda: ["cam-1", "cam-2"],
...                      on_start=print, on_stop=print)          # doctest: +SKIP
>>> keeper.tick(); sorted(keeper.held)                             # doctest: +SKIP
['cam-1', 'cam-2']
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from typing import Callable

import redis

from gridsight.jobs import PREFIX
from gridsight.queue import lease_key

log = logging.getLogger("gridsight.leases")

_RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


class LeaseKeeper:
    def __init__(self, r: redis.Redis, worker_id: str, *, capacity: int, cameras: Callable[[], list[str]],
                 on_start: Callable[[str], None], on_stop: Callable[[str], None], ttl_s: float = 15.0,
                 margin_s: float | None = None) -> None:
        if capacity < 0 or ttl_s <= 0:
            raise ValueError("capacity must be >= 0 and ttl_s > 0")
        self.r = r
        self.worker_id = worker_id
        self.capacity = capacity
        self.cameras = cameras
        self.on_start = on_start
        self.on_stop = on_stop
        self.ttl_ms = int(ttl_s * 1000)
        self.margin_s = ttl_s / 5 if margin_s is None else margin_s
        self.held: dict[str, float] = {}  # camera -> local deadline (monotonic)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def interval_s(self) -> float:
        return self.ttl_ms / 3000

    # --- one round ---------------------------------------------------------------
    def tick(self) -> None:
        now = time.monotonic()
        for cam, deadline in list(self.held.items()):
            sent = time.monotonic()
            try:
                ok = self.r.eval(_RENEW, 1, lease_key(cam), self.worker_id, self.ttl_ms)
            except redis.RedisError as exc:
                log.warning("lease renewal failed", extra={"camera": cam, "error": str(exc)})
                ok = None
            if ok:
                with self._lock:
                    if cam in self.held:  # not dropped meanwhile by the data path
                        self.held[cam] = sent + self.ttl_ms / 1000 - self.margin_s
            elif ok == 0 or now >= deadline:
                self._drop(cam, "lease lost" if ok == 0 else "lease deadline passed")
        for cam, deadline in list(self.held.items()):
            if time.monotonic() >= deadline:
                self._drop(cam, "lease deadline passed")
        if len(self.held) < self.capacity:
            self._claim()
        self._publish()

    def _claim(self) -> None:
        try:
            wanted = [c for c in self.cameras() if c not in self.held]
        except Exception as exc:  # a bad camera config must not kill the keeper
            log.warning("camera list unavailable", extra={"error": str(exc)})
            return
        wanted.sort(key=lambda c: hashlib.sha1(f"{self.worker_id}:{c}".encode()).hexdigest())
        for cam in wanted:
            if len(self.held) >= self.capacity:
                break
            sent = time.monotonic()
            try:
                got = self.r.set(lease_key(cam), self.worker_id, nx=True, px=self.ttl_ms)
            except redis.RedisError:
                return
            if got:
                self.held[cam] = sent + self.ttl_ms / 1000 - self.margin_s
                log.info("camera claimed", extra={"camera": cam, "worker": self.worker_id})
                try:
                    self.on_start(cam)
                except Exception:
                    log.exception("camera start failed", extra={"camera": cam})
                    self.release(cam)

    def drop(self, cam: str, why: str) -> None:
        """Stop watching ``cam`` now (its lease lapses by itself or is taken over)."""
        self._drop(cam, why)

    def _drop(self, cam: str, why: str) -> None:
        with self._lock:
            gone = self.held.pop(cam, None) is None
        if gone and why != "released":
            return  # already dropped (the data path and the keeper can both get here)
        log.warning("camera dropped", extra={"camera": cam, "worker": self.worker_id, "why": why})
        try:
            self.on_stop(cam)
        except Exception:
            log.exception("camera stop failed", extra={"camera": cam})

    def release(self, cam: str) -> None:
        self._drop(cam, "released")
        try:
            self.r.eval(_RELEASE, 1, lease_key(cam), self.worker_id)
        except redis.RedisError:
            pass  # it expires by itself

    def _publish(self) -> None:
        """What this worker holds: ``gs:leases:<id>`` (expires with the leases)."""
        try:
            self.r.set(f"{PREFIX}leases:{self.worker_id}", json.dumps(
                {"cameras": sorted(self.held), "capacity": self.capacity, "time": time.time()}), px=self.ttl_ms)
        except redis.RedisError:
            pass

    # --- background thread ---------------------------------------------------------
    def start(self) -> "LeaseKeeper":
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception("lease round failed")
            self._stop.wait(self.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=self.interval_s + 5)
        for cam in list(self.held):
            self.release(cam)
