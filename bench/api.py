"""Ticket API throughput and latency on PostgreSQL: POST /incidents and filtered ticket lists.

    .venv/bin/python bench/api.py                        # the full table (~2 minutes on 2 cores)
    .venv/bin/python bench/api.py --quick                # shorter phases, 20,000 tickets
    .venv/bin/python bench/api.py --pause-pid-file /tmp/gridsight-train.pid   # pause a background job

The API runs under uvicorn (``--workers``, default 2) on a loopback port against a fresh
PostgreSQL database (dropped afterwards); the load comes from a separate process speaking
HTTP/1.1 keep-alive over raw sockets (cheap on the CPU the server also needs). Phases, each
bounded in requests and seconds:

1. ``POST /incidents`` closed loop (``--concurrency`` connections, as fast as answered): the
   most the service sustains. The mix is the pipeline's: 90 % updates of open incidents (a
   higher ``seq``, new detections, evidence by object-store reference), 10 % new incidents.
2. ``POST /incidents`` open loop at ``--rate`` requests/s: latency is measured from each
   request's scheduled send time, so a server falling behind shows in p99 (no coordinated
   omission). Target: the rate is met and p99 < 100 ms.
The CPU column (seconds the API's processes and the bench database's PostgreSQL backends
spent, per request) does not depend on what else the machine runs; latency and req/s do.

3. The tickets table is filled to ``--tickets`` rows (COPY: 90 days, 8 types, 4 grids, 40
   cameras, every status), VACUUMed and ANALYZEd (as autovacuum leaves a table that size), then
   ``GET /api/v1/tickets`` with a mix of filters
   (status, type, grid, department, camera, time range, bbox, severity, sort): a closed loop
   (capacity) and an open loop at ``--list-rate`` requests/s (latency as operators' screens
   see it). Target: p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402

INGEST_KEY = "gsk_bench-ingest-key-0123456789abcdef"
TYPES = {  # issue type -> (category, name_en, name_zh, severity, department)
    "fire": ("0499", "Fire", "火情", "critical", "fire-rescue"),
    "smoke": ("0115", "Smoke / burning", "烟雾（焚烧）", "high", "fire-rescue"),
    "waterlogging": ("0406", "Road waterlogging", "道路积水", "high", "water-affairs"),
    "street_vending": ("0501", "Street vending / occupation", "无照经营游商（占道经营）", "medium", "city-management"),
    "illegal_parking": ("0505", "Illegal parking", "机动车乱停放", "medium", "traffic-police"),
    "illegal_parking_bicycle": ("0506", "Bicycles parked illegally", "非机动车乱停放", "low", "city-management"),
    "fire_lane_blocked": ("2101", "Fire lane blocked", "消防通道占用", "high", "fire-rescue"),
    "garbage": ("0102", "Exposed garbage", "暴露垃圾", "low", "sanitation"),
}
GRIDS = {"grid-north-west": (31.23, 121.46), "grid-north-east": (31.23, 121.475),
         "grid-south-west": (31.22, 121.46), "grid-south-east": (31.22, 121.475)}  # south-west corners, 0.01 x 0.015
STATUS_WEIGHTS = {"new": 8, "dispatched": 10, "in_progress": 6, "resolved": 10, "verified": 10, "closed": 45,
                  "reopened": 1, "rejected": 8, "duplicate": 2}


# --- a small HTTP/1.1 load generator (runs in its own process) ---------------------------------

async def _read_response(reader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, chunked = 0, False
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _run_load(port, make_request, connections, max_requests, max_seconds, rate, seed):
    random.seed(seed)
    results: list[tuple[float, int]] = []  # (latency s, status)
    start = time.perf_counter() + 0.05
    deadline = start + max_seconds
    counter = iter(range(max_requests))

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                intended = start + i / rate if rate else None
                now = time.perf_counter()
                if intended is not None and intended > now:
                    await asyncio.sleep(intended - now)
                if time.perf_counter() > deadline:
                    break
                sent = intended if intended is not None else time.perf_counter()
                writer.write(make_request(i))
                status = await _read_response(reader)
                results.append((time.perf_counter() - sent, status))
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return results, time.perf_counter() - start


def _load_process(conn, port, kind, connections, max_requests, max_seconds, rate, params):
    make = _incident_requests(params) if kind == "incidents" else _list_requests(params)
    results, elapsed = asyncio.run(_run_load(port, make, connections, max_requests, max_seconds, rate,
                                             params.get("seed", 0)))
    conn.send((results, elapsed, getattr(make, "labels", None)))
    conn.close()


def run_load(port, kind, *, connections, max_requests, max_seconds, rate=0.0, **params):
    """Run one load phase in a child process; (latencies, statuses, seconds, labels)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_load_process, args=(child, port, kind, connections, max_requests, max_seconds,
                                                   rate, params))
    proc.start()
    results, elapsed, labels = parent.recv()
    proc.join(30)
    return [r[0] for r in results], [r[1] for r in results], elapsed, labels


def _incident_requests(params):
    """Request ``i``: an update of an open incident (90 %) or a new one (10 %)."""
    keys = [f"cam-{n % 40:02d}:{t}:zone-{n % 7}:{params['run']}-{n}" for n, t in
            zip(range(params["open_keys"]), random.choices(list(TYPES), k=params["open_keys"]))]
    seqs = {k: params.get('seq_base', 0) for k in keys}
    evidence = params["evidence"]
    lat0, lon0 = 31.22, 121.46

    def make(i: int) -> bytes:
        if random.random() < 0.1:
            key = f"cam-{i % 40:02d}:{random.choice(list(TYPES))}:zone-{i % 7}:{params['run']}-new-{i}"
            seqs[key] = 0
        else:
            key = random.choice(keys)
        seqs[key] += 1
        itype = key.split(":")[1]
        now = datetime.now(timezone.utc)
        body = {
            "key": key, "seq": seqs[key], "event": "open" if seqs[key] == 1 else "update", "issue_type": itype,
            "source": "camera", "camera_id": key.split(":")[0], "zone_id": key.split(":")[2],
            "first_seen": (now - timedelta(seconds=60)).isoformat(), "last_seen": now.isoformat(),
            "score": round(random.uniform(0.4, 0.95), 3),
            "detections": [{"class_name": "car", "score": round(random.uniform(0.4, 0.95), 3),
                            "box": [random.randint(0, 900), random.randint(0, 500), 1000, 700], "track_id": n}
                           for n in range(3)],
            "evidence": evidence,
            "location": {"lat": lat0 + random.random() * 0.02, "lon": lon0 + random.random() * 0.03,
                         "address": "Bench Road"},
        }
        data = json.dumps(body).encode()
        return (b"POST /api/v1/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"X-API-Key: " + INGEST_KEY.encode() + b"\r\nContent-Length: " + str(len(data)).encode()
                + b"\r\n\r\n" + data)

    return make


LIST_QUERIES = {
    "status=new&type=illegal_parking": "status=new&type=illegal_parking",
    "grid + status": "grid=grid-north-east&status=dispatched&status=in_progress",
    "department + 7-day range": "department=sanitation&from={week_ago}&to={now}",
    "camera, newest first": "camera=cam-07&sort=-created_at",
    "bbox (a quarter grid)": "bbox=121.46,31.22,121.4675,31.225",
    "severity=critical, by due time": "severity=critical&status=new&status=dispatched&sort=due_at",
    "overdue open tickets": "overdue=true&status=dispatched",
    "no filter, page 3": "offset=100&limit=50",
}


def _list_requests(params):
    now = datetime.now(timezone.utc)
    fill = {"now": now.isoformat().replace("+00:00", "Z"),
            "week_ago": (now - timedelta(days=7)).isoformat().replace("+00:00", "Z")}
    names = list(LIST_QUERIES)
    reqs = [(f"GET /api/v1/tickets?{LIST_QUERIES[n].format(**fill)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
             f"X-API-Key: {params['viewer_key']}\r\n\r\n").encode() for n in names]

    def make(i: int) -> bytes:
        return reqs[i % len(reqs)]

    make.labels = names
    return make


# --- server, database, seeding ------------------------------------------------------------------

def pg_url(base: str, db: str, driver: bool = True) -> str:
    url = f"{base.rstrip('/')}/{db}"
    return url if driver else url.replace("postgresql+psycopg://", "postgresql://")


def start_server(env: dict, port: int, workers: int, home: Path) -> subprocess.Popen:
    import httpx

    log = open(home / "uvicorn.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-access-log",
                             "--log-level", "warning"], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            sys.exit(f"bench: the API did not start:\n{(home / 'uvicorn.log').read_text()[-3000:]}")
        time.sleep(0.3)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def seed_tickets(dsn: str, target: int) -> int:
    """COPY tickets into the table until it holds ``target`` rows; returns how many were added."""
    import psycopg

    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    cols = ("dedup_key", "seq", "issue_type", "category_code", "name_en", "name_zh", "severity", "status",
            "source", "camera_id", "zone_id", "lat", "lon", "address", "grid_id", "department_id",
            "detected_at", "last_seen_at", "created_at", "updated_at", "dispatched_at", "due_at", "resolved_at",
            "overdue", "reopen_count", "incident_state", "score", "detections", "evidence")
    with psycopg.connect(dsn) as conn:
        have = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        todo = max(0, target - have)
        with conn.cursor() as cur, cur.copy(f"COPY tickets ({', '.join(cols)}) FROM STDIN") as copy:
            for n in range(todo):
                itype = rng.choice(list(TYPES))
                cat, name_en, name_zh, severity, dept = TYPES[itype]
                grid = rng.choice(list(GRIDS))
                lat = GRIDS[grid][0] + rng.random() * 0.01
                lon = GRIDS[grid][1] + rng.random() * 0.015
                created = now - timedelta(seconds=rng.random() * 90 * 86400)
                status = rng.choices(statuses, weights)[0]
                due = created + timedelta(hours={"critical": 1, "high": 4, "medium": 24, "low": 72}[severity])
                open_ = status in ("new", "dispatched", "in_progress", "reopened")
                copy.write_row((
                    f"seed:{n}:{uuid.uuid4().hex[:8]}", 1, itype, cat, name_en, name_zh, severity, status,
                    "camera", f"cam-{rng.randrange(40):02d}", f"zone-{rng.randrange(7)}", lat, lon, "Seed Road",
                    grid, dept, created, created, created, created,
                    None if status == "new" else created + timedelta(minutes=5), due,
                    None if open_ or status in ("rejected", "duplicate") else created + timedelta(hours=2),
                    open_ and due < now, 0, "open", round(rng.uniform(0.3, 0.99), 3),
                    json.dumps([{"class_name": "car", "score": 0.8, "box": [1, 2, 3, 4], "track_id": 1}]),
                    json.dumps([])))
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:  # what autovacuum does to a table this size
        conn.execute("VACUUM (ANALYZE) tickets")
    return todo


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by the API's processes (uvicorn and its workers) and by the PostgreSQL
    backends serving the bench database, so the cost per request can be told apart from how
    busy the machine is. Processes are sampled every 0.2 s while a phase runs, so backends that
    come and go (pool overflow) are counted up to their last sample."""

    def __init__(self, server_pid: int, dsn: str, db: str):
        self.server_pid, self.dsn, self.db = server_pid, dsn, db

    def _sample(self, conn) -> dict:
        kids = subprocess.run(["pgrep", "-P", str(self.server_pid)], capture_output=True, text=True).stdout.split()
        pg = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db,))]
        return {("api", p): _cpu_s(p) for p in [self.server_pid, *map(int, kids)]} | \
               {("pg", p): _cpu_s(p) for p in pg}

    def __enter__(self) -> "CpuMeter":
        import threading

        import psycopg

        self._conn = psycopg.connect(self.dsn, autocommit=True)
        self.first = self._sample(self._conn)
        self.last = dict(self.first)
        self._stop = threading.Event()

        def poll():
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                while not self._stop.wait(0.2):
                    for k, v in self._sample(conn).items():
                        self.last[k] = max(v, self.last.get(k, 0.0))

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        for k, v in self._sample(self._conn).items():
            self.last[k] = max(v, self.last.get(k, 0.0))
        self._conn.close()

    @property
    def spent(self) -> tuple[float, float]:
        api = sum(v - self.first.get(k, 0.0) for k, v in self.last.items() if k[0] == "api")
        pg = sum(v - self.first.get(k, 0.0) for k, v in self.last.items() if k[0] == "pg")
        return api, pg


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def row(name, lat, statuses, elapsed, cpu, target, ok) -> str:
    good = sum(1 for s in statuses if 200 <= s < 300)
    ms = [v * 1000 for v in lat]
    n = max(1, len(lat))
    return (f"| {name} | {len(lat)} | {good / elapsed:,.0f} | {pct(ms, 50):.1f} | {pct(ms, 95):.1f} | "
            f"{pct(ms, 99):.1f} | {cpu[0] / n * 1000:.2f} + {cpu[1] / n * 1000:.2f} | {target} | "
            f"{'yes' if ok else '**no**'} |")


def main() -> int:
    print(describe(), flush=True)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    ap.add_argument("--concurrency", type=int, default=16, help="connections in the closed-loop phases")
    ap.add_argument("--rate", type=float, default=250.0, help="open-loop POST /incidents rate (req/s)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each POST phase")
    ap.add_argument("--tickets", type=int, default=100_000, help="tickets in the table for the list phase")
    ap.add_argument("--list-requests", type=int, default=2000, help="requests in each list phase")
    ap.add_argument("--list-concurrency", type=int, default=4, help="connections in the closed-loop list phase")
    ap.add_argument("--list-rate", type=float, default=40.0, help="open-loop list rate (req/s): operators' screens")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    ap.add_argument("--quick", action="store_true", help="5 s phases, 20,000 tickets, 1000 list requests")
    ap.add_argument("--pause-pid-file", help="SIGSTOP this pid while measuring, SIGCONT after (always)")
    ap.add_argument("--mqtt", default="", metavar="HOST:PORT",
                    help="push on: every ticket change writes its event in its transaction and the API "
                         "sends it to this broker (e.g. 127.0.0.1:1883); default off")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.tickets, args.list_requests = 5.0, 20_000, 400

    import psycopg

    from api.storage.objects import LocalStore

    paused = None
    if args.pause_pid_file and Path(args.pause_pid_file).exists():
        pid = int(Path(args.pause_pid_file).read_text().split()[0])
        try:  # leave it alone if it is gone or someone else has it stopped (their bench resumes it)
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            paused = pid if state not in ("T", "t", "Z") else None
        except OSError:
            paused = None

    def resume(*_):
        if paused:
            try:
                os.kill(paused, signal.SIGCONT)
            except ProcessLookupError:
                pass

    db = f"gs_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = pg_url(args.pg, "postgres", driver=False)
    with psycopg.connect(admin_dsn, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    home = Path(tempfile.mkdtemp(prefix="gridsight-bench-"))
    store = LocalStore(home / "evidence", secret=None)
    evidence = [{"kind": k, "object_key": store.put(f"bench {k} evidence".encode() * 200, "image/jpeg"),
                 "content_type": "image/jpeg"} for k in ("annotated", "raw")]
    env = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": pg_url(args.pg, db),
           "GRIDSIGHT_API_KEY": INGEST_KEY, "GRIDSIGHT_S3_ENDPOINT": "", "GRIDSIGHT_MQTT_HOST": args.mqtt.rpartition(":")[0] or args.mqtt,
           "GRIDSIGHT_MQTT_PORT": args.mqtt.rpartition(":")[2] if ":" in args.mqtt else "1883",
           "GRIDSIGHT_LOG_LEVEL": "WARNING"}
    from tests.services.swift import free_port

    port = free_port()
    made = subprocess.run([sys.executable, "-m", "gridsight.cli", "api", "create-key", "bench-viewer", "--role",
                           "viewer"], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    if made.returncode:
        sys.exit(f"bench: could not create a viewer key: {made.stderr}")
    viewer_key = made.stdout.strip().splitlines()[-1]
    server = start_server(env, port, args.workers, home)
    lines = []
    try:
        signal.signal(signal.SIGTERM, lambda *_: (resume(), sys.exit(1)))
        if paused:
            os.kill(paused, signal.SIGSTOP)
        run = uuid.uuid4().hex[:6]
        common = dict(open_keys=2000, evidence=evidence, run=run)
        # warm-up: open the incidents the mix updates, warm connections and caches
        run_load(port, "incidents", connections=args.concurrency, max_requests=3000, max_seconds=30, seed=1,
                 seq_base=0, **common)
        with CpuMeter(server.pid, admin_dsn, db) as meter:
            lat, st, el, _ = run_load(port, "incidents", connections=args.concurrency, max_requests=1_000_000,
                                      max_seconds=args.seconds, seed=2, seq_base=1_000_000, **common)
        post_cpu = meter.spent
        max_rate = sum(1 for s in st if 200 <= s < 300) / el
        post_cost = sum(post_cpu) / max(1, len(lat))
        lines.append(row(f"POST /incidents, closed loop ({args.concurrency} connections)", lat, st, el, post_cpu,
                         "the most sustained", all(200 <= s < 300 for s in st)))
        with CpuMeter(server.pid, admin_dsn, db) as meter:
            lat, st, el, _ = run_load(port, "incidents", connections=64, max_requests=int(args.rate * args.seconds),
                                      max_seconds=args.seconds * 1.5, rate=args.rate, seed=3,
                                      seq_base=2_000_000, **common)
        achieved = sum(1 for s in st if 200 <= s < 300) / el
        ok = achieved >= 0.98 * args.rate and pct(lat, 99) < 0.100 and all(200 <= s < 300 for s in st)
        lines.append(row(f"POST /incidents, open loop at {args.rate:.0f}/s", lat, st, el, meter.spent,
                         f">= {args.rate:.0f}/s, p99 < 100 ms", ok))

        dsn = pg_url(args.pg, db, driver=False)
        t0 = time.perf_counter()
        added = seed_tickets(dsn, args.tickets)
        seed_s = time.perf_counter() - t0
        with psycopg.connect(dsn) as c:
            total = c.execute("SELECT count(*) FROM tickets").fetchone()[0]
        with CpuMeter(server.pid, admin_dsn, db) as meter:
            lat, st, el, labels = run_load(port, "list", connections=args.list_concurrency,
                                           max_requests=args.list_requests, max_seconds=120, viewer_key=viewer_key)
        list_cpu = meter.spent
        list_cost = sum(list_cpu) / max(1, len(lat))
        lines.append(row(f"GET /tickets with filters, {total:,} tickets, closed loop ({args.list_concurrency} "
                         "connections)", lat, st, el, list_cpu, "the most sustained", all(s == 200 for s in st)))
        with CpuMeter(server.pid, admin_dsn, db) as meter:
            lat, st, el, labels = run_load(port, "list", connections=16, max_requests=args.list_requests,
                                           max_seconds=args.list_requests / args.list_rate * 1.5,
                                           rate=args.list_rate, viewer_key=viewer_key)
        ok = pct(lat, 99) < 0.050 and all(s == 200 for s in st)
        lines.append(row(f"GET /tickets with filters, {total:,} tickets, open loop at {args.list_rate:.0f}/s",
                         lat, st, el, meter.spent, "p99 < 50 ms", ok))
        per = {n: [] for n in labels}
        for i, v in enumerate(lat):  # requests cycle through the query mix in order
            per[labels[i % len(labels)]].append(v)
        detail = [f"| {n} | {len(v)} | {pct([x * 1000 for x in v], 50):.1f} | {pct([x * 1000 for x in v], 99):.1f} |"
                  for n, v in per.items()]
    finally:
        resume()
        if args.mqtt:  # how many of the events went out (the queue drains while the server runs)
            push_states = {}
            with psycopg.connect(pg_url(args.pg, db, driver=False), autocommit=True) as c:
                for _ in range(120):
                    push_states = dict(c.execute("SELECT state, count(*) FROM push_deliveries GROUP BY state").fetchall())
                    if not push_states.get("pending"):
                        break
                    time.sleep(0.5)
        stop_server(server)
        with psycopg.connect(admin_dsn, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    print(f"\nTicket API on PostgreSQL, uvicorn --workers {args.workers}; {describe()}"
          f"{'; background job paused' if paused else ''}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    if args.mqtt:
        print(f"push on (MQTT {args.mqtt}): deliveries by state after the run: {push_states}")
    print()
    print("| scenario | requests | ok req/s | p50 ms | p95 ms | p99 ms | CPU ms/req (API + PostgreSQL) | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(lines))
    cores = os.cpu_count() or 1
    print(f"\nPOST /incidents most sustained: {max_rate:,.0f} req/s; CPU per request {post_cost * 1000:.2f} ms "
          f"(API + PostgreSQL), i.e. at most ~{cores / post_cost:,.0f} req/s if the {cores} cores did nothing else. "
          f"List: {list_cost * 1000:.2f} ms CPU per request. Load average at the end: {os.getloadavg()[0]:.1f}. "
          f"Seeded {added:,} tickets by COPY in {seed_s:.1f} s.\n")
    print("| list query (of the mix, open loop) | requests | p50 ms | p99 ms |\n|---|---|---|---|")
    print("\n".join(detail))
    return 0


if __name__ == "__main__":
    sys.exit(main())
