"""How fast the push notifier empties a backlog to MQTT, with one or more hosts on one database.

    .venv/bin/python bench/push.py                    # 3,000 events, 1 and 2 hosts, local broker
    .venv/bin/python bench/push.py --events 10000 --hosts 1 2 4

A fresh PostgreSQL database (dropped afterwards) is migrated; each "host" is a Notifier with its
own engine on it and a QoS 1 link to the broker. The events are queued while no notifier runs,
then all start at once and the clock runs until nothing is pending: the rate a host catches up
after the broker was away. Needs PostgreSQL on 127.0.0.1:5432 and an MQTT broker
(scripts/services.sh starts both).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402


def run(pg: str, hosts: int, events: int, mqtt: tuple[str, int]) -> tuple[float, float, dict]:
    import psycopg

    from api.db.engine import make_engine
    from api.db.migrate import upgrade
    from api.push import Notifier

    db = f"gs_push_bench_{uuid.uuid4().hex[:8]}"
    admin = pg.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    url = f"{pg}/{db}"
    try:
        schema = make_engine(url)
        upgrade(schema)
        schema.dispose()
        notifiers = [Notifier(url, *mqtt, webhook_allow=("127.0.0.1",)) for _ in range(hosts)]
        t = time.perf_counter()
        for i in range(events):
            notifiers[i % hosts].publish({"event": "updated", "number": f"GS-2026-{i:06d}"})
        queued = events / (time.perf_counter() - t)
        t = time.perf_counter()
        for n in notifiers:
            n.start()
        if not notifiers[0].flush(600):
            raise SystemExit("bench: deliveries still pending after 600 s")
        drained = events / (time.perf_counter() - t)
        counts = notifiers[0].outbox.counts()
        for n in notifiers:
            n.close()
        return queued, drained, counts
    finally:
        with psycopg.connect(admin, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> int:
    print(describe(), flush=True)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=3000)
    ap.add_argument("--hosts", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    ap.add_argument("--mqtt", default="127.0.0.1:1883", metavar="HOST:PORT")
    args = ap.parse_args()
    host, _, port = args.mqtt.rpartition(":")
    print(f"push backlog of {args.events:,} events to MQTT {args.mqtt} (QoS 1), PostgreSQL\n")
    print("| hosts | queued (publish, events/s) | delivered (events/s) | deliveries by state |")
    print("|---|---|---|---|")
    for hosts in args.hosts:
        queued, drained, counts = run(args.pg, hosts, args.events, (host, int(port)))
        print(f"| {hosts} | {queued:,.0f} | {drained:,.0f} | {counts} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
