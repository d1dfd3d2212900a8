"""Delivery: the durable outbox and the courier against the real ticket API, through an outage
and a pipeline restart: nothing lost, nothing doubled."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from pipeline.client import Courier, TicketClient, incident_payload
from pipeline.evidence import render
from pipeline.outbox import Outbox
from tests.pipeline.conftest import INGEST_KEY
from tests.pipeline.scripted import SHAPE, Scene, parking_rule

CAR = ("car", (400, 250, 520, 330), 0.8)
LOCATION = {"lat": 31.235, "lon": 121.465, "address": "1 North-west Rd"}


def scripted_events():
    """A parked car: open, then updates and a close; and a second place, a second incident."""
    from gridsight.issues import Zone
    from tests.pipeline.scripted import KERB

    west = Zone("west-kerb", "no_parking", [(0, 200), (299, 200), (299, 480), (0, 480)])
    s = Scene([parking_rule(persistence_s=5, dwell_s=5, clear_s=5)], zones=[KERB, west])
    end = s.run(20, 2, lambda t: (CAR, ("person", (100, 100, 140, 200), 0.9)))
    end = s.run(10, 2, lambda t: (), start=end)
    s.run(20, 2, lambda t: (("car", (50, 250, 170, 330), 0.7),), start=end)
    return s.events


def drain(courier: Courier, outbox: Outbox, seconds: float) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline and outbox.counts()["pending"]:
        courier.deliver_one()
        time.sleep(0.05)


def put_all(outbox: Outbox, events) -> None:
    for ev in events:
        images = render(ev, language="en+zh") if ev.event != "close" else None
        outbox.put(incident_payload(ev, location=LOCATION), *(images or (None, None)))


def test_outbox_keeps_messages_across_restart_and_never_doubles(tmp_path):
    events = scripted_events()
    path = tmp_path / "outbox.db"
    box = Outbox(path)
    put_all(box, events)
    put_all(box, events)  # the same (key, seq) again: stored once
    assert box.counts()["pending"] == len(events)
    box.close()
    box = Outbox(path)  # a restarted pipeline finds them all
    assert box.counts()["pending"] == len(events)
    msg, _ = box.head()
    assert (msg.key, msg.seq) == (events[0].key, events[0].seq) and msg.annotated[:2] == b"\xff\xd8"
    box.close()


def test_api_outage_and_pipeline_restart_lose_nothing_double_nothing(tmp_path, ticket_api):
    events = scripted_events()
    keys = sorted({e.key for e in events})
    assert len(keys) == 2 and any(e.event == "close" for e in events)
    path = tmp_path / "outbox.db"

    # 1. the API is down: messages wait, retries are recorded
    box = Outbox(path)
    courier = Courier(box, TicketClient(ticket_api.url, INGEST_KEY, timeout_s=2), min_backoff_s=0.05,
                      max_backoff_s=0.2)
    put_all(box, events[:3])
    for _ in range(3):
        courier.deliver_one()
        time.sleep(0.25)
    assert courier.sent == 0 and courier.failures >= 2 and courier.online is False
    assert box.counts()["pending"] == 3
    # 2. the pipeline restarts (new outbox object on the same file), more events arrive meanwhile
    courier.client.close()
    box.close()
    box = Outbox(path)
    put_all(box, events)  # the first three again (a replay after restart) and the rest
    assert box.counts()["pending"] == len(events)
    # 3. the API comes up: everything is delivered, in order, once
    ticket_api.start()
    courier = Courier(box, TicketClient(ticket_api.url, INGEST_KEY), min_backoff_s=0.05, max_backoff_s=0.2)
    drain(courier, box, 60)
    assert box.counts() == {"pending": 0, "rejected": 0}
    assert courier.sent == len(events)
    tickets = ticket_api.tickets()
    assert sorted(t["dedup_key"] for t in tickets) == keys
    last_seq = {k: max(e.seq for e in events if e.key == k) for k in keys}
    for t in tickets:
        assert t["seq"] == last_seq[t["dedup_key"]]
        assert {e["kind"] for e in t["evidence"]} >= {"annotated", "raw"}
        assert t["address"] == LOCATION["address"]
    closed = {e.key for e in events if e.event == "close"}
    assert {t["dedup_key"] for t in tickets if t["incident_state"] == "closed"} == closed
    # 4. the API goes down again mid-way, a redelivery of everything after it comes back changes nothing
    ticket_api.stop()
    put_all(box, events)  # a replay of everything (delivered rows are gone, so these are new rows)
    assert box.counts()["pending"] == len(events)
    courier.deliver_one()
    assert box.counts()["pending"] == len(events)  # nothing lost while down
    ticket_api.start()
    drain(courier, box, 60)
    assert box.counts()["pending"] == 0
    assert [(t["dedup_key"], t["seq"]) for t in ticket_api.tickets()] == [(t["dedup_key"], t["seq"]) for t in tickets]
    courier.client.close()
    box.close()


def test_rejected_message_is_kept_and_skipped(tmp_path, ticket_api):
    ticket_api.start()
    events = scripted_events()
    box = Outbox(tmp_path / "outbox.db")
    bad = incident_payload(events[0])
    bad.update(key="bad:1", issue_type="no_such_issue")
    box.put(bad)
    put_all(box, events[:1])
    courier = Courier(box, TicketClient(ticket_api.url, INGEST_KEY))
    drain(courier, box, 30)
    assert box.counts() == {"pending": 0, "rejected": 1}
    key, seq, error = box.rejected()[0]
    assert key == "bad:1" and "422" in error
    assert [t["dedup_key"] for t in ticket_api.tickets()] == [events[0].key]
    courier.client.close()
    box.close()


def test_evidence_blurs_bystanders_and_labels_in_chinese():
    events = scripted_events()
    ev = next(e for e in events if e.event == "open" and e.evidence.others)
    frame = np.random.default_rng(0).integers(0, 255, SHAPE, dtype=np.uint8)
    ev.evidence.frame = frame
    ann, raw = render(ev, language="en+zh", blur_people=True)
    raw_img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    person = ev.evidence.others[0]["box"]
    x1, y1, x2, y2 = (int(v) for v in person)
    assert raw_img[y1 + 5:y2 - 5, x1 + 5:x2 - 5].std() < frame[y1 + 5:y2 - 5, x1 + 5:x2 - 5].std() / 3
    car = ev.detections[0]["box"]  # the subject is not blurred
    cx1, cy1, cx2, cy2 = (int(v) for v in car)
    assert raw_img[cy1 + 5:cy2 - 5, cx1 + 5:cx2 - 5].std() > 40
    _, raw_plain = render(ev, language="en", blur_people=False)
    plain = cv2.imdecode(np.frombuffer(raw_plain, np.uint8), cv2.IMREAD_COLOR)
    assert plain[y1 + 5:y2 - 5, x1 + 5:x2 - 5].std() > 40
    ann_en, _ = render(ev, language="en")
    assert ann != ann_en  # the banner differs by language (Chinese glyphs drawn)


@pytest.mark.parametrize("status,rejected", [(503, False), (429, False), (425, False), (401, False), (422, True)])
def test_courier_retries_outages_and_rejects_bad_messages(tmp_path, status, rejected):
    """A real loopback HTTP server answering ``status``: retried (5xx, 429, 425, 401) or rejected (422)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            hits.append(self.headers.get("X-API-Key"))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"detail": "no"}')

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        box = Outbox(tmp_path / "o.db")
        put_all(box, scripted_events()[:1])
        courier = Courier(box, TicketClient(f"http://127.0.0.1:{server.server_address[1]}", "k-1"))
        courier.deliver_one()
        assert hits == ["k-1"]
        assert box.counts() == ({"pending": 0, "rejected": 1} if rejected else {"pending": 1, "rejected": 0})
        courier.client.close()
        box.close()
    finally:
        server.shutdown()
        server.server_close()
