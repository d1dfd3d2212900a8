"""Live cameras across worker processes: leases, capacity, failover, never watched twice."""

from __future__ import annotations

import json
import time

import yaml

from tests.jobs.scene import CAMERA

TTL_S = 3.0


def watch_intervals(r) -> dict[str, list[tuple[str, float, float | None]]]:
    """camera -> [(worker, started, stopped or None)] from the workers' watch log."""
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
        out.setdefault(cam, []).append((w, t, None))
    return out


def never_twice(intervals) -> None:
    for cam, spans in intervals.items():
        spans = sorted(spans, key=lambda s: s[1])
        for a, b in zip(spans, spans[1:]):
            assert a[2] is not None and a[2] <= b[1], f"{cam} watched twice at once: {a} and {b}"


def test_cameras_spread_by_capacity_and_fail_over(job_env, workers, redis_db, tmp_path, clip):
    from pipeline.distributed.leases import holders

    cams = [f"live-{i}" for i in range(4)]
    cfg = tmp_path / "cameras.yaml"
    cfg.write_text(yaml.safe_dump({"cameras": [{"id": c, "url": str(clip), **CAMERA} for c in cams]}))
    args = ("--cameras", str(cfg), "--capacity", "3", "--lease-ttl", str(TTL_S))
    a = workers.start(*args)
    b = workers.start(*args)
    deadline = time.time() + 40
    while time.time() < deadline and None in holders(redis_db, cams).values():
        time.sleep(0.2)
    held = holders(redis_db, cams)
    assert None not in held.values(), f"every camera claimed: {held}"
    by_worker = {w: [c for c in cams if held[c] == w] for w in set(held.values())}
    assert len(by_worker) == 2 and all(len(v) <= 3 for v in by_worker.values()), by_worker
    victim_id = next(w for w in by_worker if w.endswith(f"-{a.pid}"))
    survivor = next(w for w in by_worker if w != victim_id)
    workers.kill(a)
    killed = time.time()
    deadline = killed + TTL_S * 4 / 3 + 8
    while time.time() < deadline:
        held = holders(redis_db, cams)
        if sum(1 for c in cams if held[c] == survivor) == 3:
            break
        time.sleep(0.1)
    took = time.time() - killed
    assert sum(1 for c in cams if held[c] == survivor) == 3, f"the survivor fills its capacity: {held}"
    assert victim_id not in held.values()
    assert took <= TTL_S * 4 / 3 + 2, f"failover took {took:.1f} s"
    never_twice(watch_intervals(redis_db))
    assert b.poll() is None
