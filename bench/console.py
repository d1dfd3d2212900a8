"""The review console's queue page with 100,000 tickets in PostgreSQL: p50 / p99 per request.

    .venv/bin/python bench/console.py                 # 100,000 tickets, 200 requests per row
    .venv/bin/python bench/console.py --tickets 20000 --requests 50

A fresh PostgreSQL database (dropped afterwards) is filled by COPY (``bench/api.py``'s seeding:
90 days, 8 types, 4 grids, 40 cameras, every status), a third of the tickets get a review
(bulk ``INSERT ... SELECT``), every ticket gets two evidence references and a detection box;
then the API runs under uvicorn (one worker) on a loopback port and one client asks, one request
at a time over a kept-alive connection, for what the console's queue page asks: the newest page
of unreviewed detections (50), filtered by camera, type, grid and status, and 20 pages deep by
the keyset cursor; and the thumbnails (the first request of each makes it, later ones are cached).
Target: the queue page answers in under 300 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
_spec = importlib.util.spec_from_file_location("bench_api", REPO / "bench" / "api.py")
bench_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_api)

TARGET_MS = 300.0


def evidence_jpeg() -> bytes:
    import cv2
    import numpy as np

    img = np.full((720, 1280, 3), (120, 130, 140), np.uint8)
    cv2.rectangle(img, (500, 300), (800, 520), (160, 60, 30), -1)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def prepare(dsn: str, evidence: list[dict]) -> tuple[int, int]:
    """Reviews for a third of the tickets, evidence and a box for all; (reviews, queue length)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE tickets SET evidence = %s::jsonb, detections = jsonb_build_array(jsonb_build_object("
                     "'class_name', 'car', 'score', 0.8, 'box', jsonb_build_array(100 + id %% 900, 100 + id %% 500, "
                     "260 + id %% 900, 220 + id %% 500)))", (json.dumps(evidence),))
        reviews = conn.execute("INSERT INTO reviews (ticket_id, verdict, reason, reviewer, at) "
                               "SELECT id, CASE WHEN id % 2 = 0 THEN 'confirmed' ELSE 'rejected' END, "
                               "CASE WHEN id % 2 = 0 THEN NULL ELSE 'not_a_problem' END, 'seed', created_at "
                               "FROM tickets WHERE id % 3 = 0").rowcount
        waiting = conn.execute("SELECT count(*) FROM tickets t WHERE status IN ('new', 'dispatched', 'in_progress', "
                               "'reopened') AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.ticket_id = t.id)"
                               ).fetchone()[0]
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) tickets")
        conn.execute("VACUUM (ANALYZE) reviews")
    return reviews, waiting


def timed(client, url: str, n: int, params=None) -> tuple[list[float], set[int]]:
    lat, codes = [], set()
    for i in range(n):
        p = params(i) if callable(params) else params
        t = time.perf_counter()
        r = client.get(url, params=p)
        lat.append(time.perf_counter() - t)
        codes.add(r.status_code)
    return lat, codes


def line(name: str, lat: list[float], codes: set[int], target: float | None) -> str:
    ms = [v * 1000 for v in lat]
    p50, p99 = bench_api.pct(ms, 50), bench_api.pct(ms, 99)
    ok = codes == {200} and (target is None or p99 < target)
    return (f"| {name} | {len(ms)} | {p50:.1f} | {p99:.1f} | {'< %d ms' % target if target else '—'} | "
            f"{'yes' if ok else '**no**'} |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=200, help="requests per row")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    args = ap.parse_args()

    import httpx
    import psycopg

    from api.storage.objects import LocalStore
    from tests.services import free_port

    db = f"gs_bench_console_{uuid.uuid4().hex[:8]}"
    admin_dsn = bench_api.pg_url(args.pg, "postgres", driver=False)
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    home = Path(tempfile.mkdtemp(prefix="gridsight-bench-console-"))
    store = LocalStore(home / "evidence", secret="dev-only-change-me")
    jpeg = evidence_jpeg()
    evidence = [{"kind": k, "object_key": store.put(jpeg, "image/jpeg"), "content_type": "image/jpeg"}
                for k in ("annotated", "raw")]
    env = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": bench_api.pg_url(args.pg, db),
           "GRIDSIGHT_API_KEY": bench_api.INGEST_KEY, "GRIDSIGHT_S3_ENDPOINT": "", "GRIDSIGHT_MQTT_HOST": "",
           "GRIDSIGHT_LOG_LEVEL": "WARNING"}
    made = bench_api.subprocess.run([sys.executable, "-m", "gridsight.cli", "api", "create-key", "bench-operator",
                                     "--role", "operator"], env=env, cwd=REPO, capture_output=True, text=True,
                                    timeout=120)
    if made.returncode:
        sys.exit(f"bench: could not create a key: {made.stderr}")
    key = made.stdout.strip().splitlines()[-1]
    port = free_port()
    server = bench_api.start_server(env, port, 1, home)  # migrates the new database
    lines = []
    try:
        dsn = bench_api.pg_url(args.pg, db, driver=False)
        t = time.perf_counter()
        added = bench_api.seed_tickets(dsn, args.tickets)
        reviews, waiting = prepare(dsn, evidence)
        seed_s = time.perf_counter() - t
        n = args.requests
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/api/v1", headers={"X-API-Key": key},
                          timeout=60) as client:
            queue = "/review-queue"
            timed(client, queue, 5)  # warm the connection, the plans, the auth cache
            lines.append(line("queue, newest 50 unreviewed", *timed(client, queue, n), TARGET_MS))
            cams = [f"cam-{i:02d}" for i in range(40)]
            lines.append(line("queue by camera", *timed(client, queue, n, lambda i: {"camera": cams[i % 40]}),
                              TARGET_MS))
            types = list(bench_api.TYPES)
            lines.append(line("queue by issue type", *timed(client, queue, n, lambda i: {"type": types[i % len(types)]}),
                              TARGET_MS))
            grids = list(bench_api.GRIDS)
            lines.append(line("queue by grid", *timed(client, queue, n, lambda i: {"grid": grids[i % 4]}), TARGET_MS))
            lines.append(line("queue, status new", *timed(client, queue, n, {"status": "new"}), TARGET_MS))
            deep, codes, after = [], set(), None
            while len(deep) < n:
                t = time.perf_counter()
                r = client.get(queue, params={"after": after} if after else None)
                deep.append(time.perf_counter() - t)
                codes.add(r.status_code)
                after = r.json().get("next") if len(deep) % 20 else None  # 20 pages deep, then from the top
            lines.append(line("queue pages 1-20 by cursor", deep, codes, TARGET_MS))
            ids = [i["id"] for i in client.get(queue, params={"limit": 200}).json()["items"]]
            urls = [f"/tickets/{i}/thumbnail?kind=crop" for i in ids[:n]]
            if urls:
                lines.append(line("thumbnail crop, first request (made)", *_each(client, urls), None))
                lines.append(line("thumbnail crop, cached", *_each(client, urls), None))
    finally:
        bench_api.stop_server(server)
        with psycopg.connect(admin_dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    print(f"Review console queue (bench/console.py), PostgreSQL, {args.tickets:,} tickets "
          f"({added:,} seeded by COPY and {reviews:,} reviews by INSERT ... SELECT in {seed_s:.1f} s; "
          f"{waiting:,} open and unreviewed)")
    print(f"Machine: {bench_api.machine()}; load average {os.getloadavg()[0]:.1f}; one uvicorn worker, "
          "one client, one request at a time over HTTP/1.1 keep-alive\n")
    print("| request | n | p50 ms | p99 ms | target | met |\n|---|---|---|---|---|---|")
    print("\n".join(lines))
    return 0


def _each(client, urls: list[str]) -> tuple[list[float], set[int]]:
    lat, codes = [], set()
    for u in urls:
        t = time.perf_counter()
        codes.add(client.get(u).status_code)
        lat.append(time.perf_counter() - t)
    return lat, codes


if __name__ == "__main__":
    raise SystemExit(main())
