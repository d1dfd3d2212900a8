"""Closed-loop costs on PostgreSQL: the mute check each incident creation pays, and the
evaluation report (JSON and PNG) over many tickets.

    .venv/bin/python -m bench.loop [--tickets 20000] [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

Makes a scratch database next to the given one and drops it afterwards. Prints a table.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, insert, text

import gridsight  # noqa: F401  (offline set-up)
from api.auth import Principal
from api.db.engine import make_engine, make_sessionmaker
from api.db.loop import Mute, Verification
from api.db.migrate import upgrade
from api.db.models import Department, Ticket
from api.schemas.incidents import IncidentIn
from api.services.reports import build_report, chart_png
from api.services.review import muted_incident
from api.services.tickets import TicketFilters
from bench.machine import describe


def timed(fn, n: int) -> float:
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e3


def fill(session, n: int, start: datetime) -> None:
    rng = random.Random(0)
    for dep in ("traffic-police", "sanitation", "fire-rescue"):
        session.merge(Department(id=dep, name_en=dep, name_zh=dep))
    session.flush()
    rows, checks = [], []
    for i in range(n):
        created = start + timedelta(minutes=i * 3)
        dispatched = created + timedelta(minutes=rng.randint(5, 120))
        resolved = dispatched + timedelta(hours=rng.uniform(0.5, 30)) if rng.random() < 0.7 else None
        verified = resolved + timedelta(minutes=10) if resolved and rng.random() < 0.6 else None
        status = "verified" if verified else "resolved" if resolved else rng.choice(["dispatched", "rejected"])
        rows.append(dict(id=i + 1, dedup_key=f"bench:{i}", seq=1, issue_type="illegal_parking", severity="medium",
                         status=status, source="camera", camera_id=f"cam-{i % 40}", zone_id="kerb",
                         department_id=("traffic-police", "sanitation", "fire-rescue")[i % 3], detected_at=created,
                         last_seen_at=created, created_at=created, updated_at=created, dispatched_at=dispatched,
                         resolved_at=resolved, verified_at=verified, overdue=False, reopen_count=int(rng.random() < 0.1),
                         incident_state="open", score=0.8, detections=[], evidence=[]))
        if verified and rng.random() < 0.7:
            checks.append(dict(ticket_id=i + 1, method="camera", outcome="gone", applied="verify", at=verified,
                               actor="camera:x", frames=10, present_frames=0, detections=[], images=[]))
    session.execute(insert(Ticket), rows)
    if checks:
        session.execute(insert(Verification), checks)
    session.commit()


def main() -> None:
    print(describe(), flush=True)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=20000)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    name = f"gs_loop_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    table = []
    try:
        engine = make_engine(args.pg.rsplit("/", 1)[0] + "/" + name)
        upgrade(engine)
        sessions = make_sessionmaker(engine)
        start = datetime(2026, 1, 5, tzinfo=timezone.utc)
        with sessions() as s:
            fill(s, args.tickets, start)
        now = start + timedelta(days=400)
        who = Principal(1, "bench", "ingest")
        inc = IncidentIn(key="cam-1:illegal_parking:kerb:new", seq=1, issue_type="illegal_parking",
                         camera_id="cam-1", zone_id="kerb")
        with sessions() as s:
            table.append(("mute check per incident creation, no mute", timed(lambda: muted_incident(s, inc, who, now),
                                                                             2000)))
            s.add(Mute(camera_id="cam-2", zone_id="kerb", issue_type="illegal_parking", ticket_id=1, reason="x",
                       created_by="b", created_at=now, until=now + timedelta(days=1), suppressed=0))
            s.commit()
            table.append(("mute check per incident creation, a mute elsewhere",
                          timed(lambda: muted_incident(s, inc, who, now), 2000)))
            f = TicketFilters()
            report = build_report(s, f, None, by="department", period="week")
            table.append((f"report JSON, {args.tickets} tickets, by department and week",
                          timed(lambda: build_report(s, f, None, by="department", period="week"), 5)))
            table.append((f"report PNG ({len(report['rows'])} rows)", timed(lambda: chart_png(report), 3)))
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    width = max(len(k) for k, _ in table)
    print(f"{'what'.ljust(width)}  ms")
    for k, v in table:
        print(f"{k.ljust(width)}  {v:8.2f}")


if __name__ == "__main__":
    main()
