"""Live cameras across worker processes: leases, capacity, failover, never watched twice."""

from __future__ import annotations

import json
import time

import yaml

from tests.jobs.scene import CAMERA

TTL_S = 3.0


def watch_intervals(r, died: dict[str, float]) -> dict[str, list[tuple[str, float, float | None]]]:
    """camera -> [(worker, started, stopped or None)] from the workers' watch log; a killed
    worker (``died``: worker -> when) watched until it died."""
    out: dict[str, list] = {}
    open_: dict[tuple[str, str], float] = {}
    for raw in r.lrange("gs:watchlog", 0, -1):
        e = json.loads(raw)
        k = (e["camera"], e["worker"])
        if e["event"] == "start":
            open_[k] = e["time"]
        elif k in open_:
            out.setdefault(e["camera"], []).append((e["worker"], open_.pop(k), e["time"]))
    for (cam, w), t in open_.items():
        out.setdefault(cam, []).append((w, t, died.get(w)))
    return out


def never_twice(intervals) -> None:
    for cam, spans in intervals.items():
        spans = sorted(spans, key=lambda s: s[1])
        for a, b in zip(spans, spans[1:]):
            assert a[2] is not None and a[2] <= b[1], f"{cam} watched twice at once: {a} and {b}"
    assert intervals, "the watch log is empty"


def test_cameras_spread_by_capacity_and_fail_over(job_env, workers, redis_db, tmp_path, clip):
    """Three workers of capacity 2, four cameras: a worker's death leaves exactly enough room."""
    from gridsight.queue import holders

    cams = [f"live-{i}" for i in range(4)]
    cfg = tmp_path / "cameras.yaml"
    cfg.write_text(yaml.safe_dump({"cameras": [{"id": c, "url": str(clip), **CAMERA} for c in cams]}))
    args = ("--cameras", str(cfg), "--capacity", "2", "--lease-ttl", str(TTL_S))
    procs = [workers.start(*args) for _ in range(3)]
    deadline = time.time() + 60
    while time.time() < deadline and None in holders(redis_db, cams).values():
        time.sleep(0.2)
    held = holders(redis_db, cams)
    assert None not in held.values(), f"every camera claimed: {held}"
    counts = {w: list(held.values()).count(w) for w in set(held.values())}
    assert max(counts.values()) <= 2, f"capacity respected: {held}"
    victim_id = max(counts, key=counts.get)
    victim = next(p for p in procs if victim_id.endswith(f"-{p.pid}"))
    moved = [c for c in cams if held[c] == victim_id]
    workers.kill(victim)
    killed = time.time()
    while time.time() < killed + TTL_S * 4 / 3 + 10:
        held = holders(redis_db, cams)
        if all(held[c] not in (None, victim_id) for c in cams):
            break
        time.sleep(0.1)
    took = time.time() - killed
    assert all(held[c] not in (None, victim_id) for c in moved), f"cameras moved: {held}"
    assert max(list(held.values()).count(w) for w in set(held.values())) <= 2
    assert took <= TTL_S * 4 / 3 + 1.5, f"failover took {took:.1f} s (stated bound {TTL_S * 4 / 3:.1f} s)"
    never_twice(watch_intervals(redis_db, {victim_id: killed}))
    assert all(p.poll() is None for p in procs if p is not victim)
