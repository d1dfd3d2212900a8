"""/api/v1/webhooks: admins subscribe URLs; ticket changes reach them signed; the delivery log shows it."""

from __future__ import annotations

import json

import pytest

from api.push import verify_signature
from tests.interop.conftest import NORTH_WEST
from tests.push.test_push import Receiver

SECRET = "subscriber-secret-0123456789"


def test_subscribe_receive_signed_events_and_unsubscribe(api):
    receiver = Receiver()
    try:
        r = api.client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET, "events": ["status"]},
                            headers=api.h("admin"))
        assert r.status_code == 201, r.text
        sub = r.json()
        assert sub["url"] == receiver.url and sub["events"] == ["status"] and "secret" not in sub
        listed = api.client.get("/api/v1/webhooks", headers=api.h("admin")).json()
        assert [s["id"] for s in listed] == [sub["id"]] and SECRET not in json.dumps(listed)

        t = api.incident("garbage", NORTH_WEST)
        api.act(t["number"], "reject", reason="a shadow")
        assert api.notifier.flush(10)
        [req] = receiver.requests  # the created event is filtered out, the status change is not
        assert verify_signature(SECRET, req["body"], req["headers"]["X-GridSight-Signature"])
        event = json.loads(req["body"])
        assert (event["event"], event["number"], event["to_status"]) == ("status", t["number"], "rejected")

        log = api.client.get("/api/v1/webhooks/deliveries", params={"state": "delivered"}, headers=api.h("admin")).json()
        assert [(d["event"], d["number"], d["subscription_id"], d["attempts"], d["last_status"]) for d in log] == \
            [("status", t["number"], sub["id"], 1, 200)]

        assert api.client.delete(f"/api/v1/webhooks/{sub['id']}", headers=api.h("admin")).status_code == 204
        assert api.client.delete(f"/api/v1/webhooks/{sub['id']}", headers=api.h("admin")).status_code == 404
        api.act(api.incident("garbage", NORTH_WEST)["number"], "reject", reason="again")
        assert api.notifier.flush(10)
        assert len(receiver.requests) == 1
    finally:
        receiver.close()


def test_only_admins_and_valid_subscriptions(api):
    body = {"url": "http://127.0.0.1:9/hook", "secret": SECRET}
    for role in ("viewer", "dispatcher", "ingest"):
        assert api.client.post("/api/v1/webhooks", json=body, headers=api.h(role)).status_code == 403
        assert api.client.get("/api/v1/webhooks/deliveries", headers=api.h(role)).status_code == 403
    assert api.client.get("/api/v1/webhooks").status_code == 401
    for bad in ({"url": "ftp://x/y", "secret": SECRET}, {"url": "http://127.0.0.1:9/", "secret": "short"},
                {"url": "http://127.0.0.1:9/", "secret": SECRET, "events": ["Status!"]}):
        r = api.client.post("/api/v1/webhooks", json=bad, headers=api.h("admin"))
        assert r.status_code == 422, (bad, r.text)
    assert api.client.get("/api/v1/webhooks", headers=api.h("admin")).json() == []


def test_the_app_runs_push_with_its_own_settings(tmp_path):
    from fastapi.testclient import TestClient

    from api import push
    from api.app import create_app
    from gridsight.settings import Settings

    old = push.set_notifier(None)
    try:
        app = create_app(Settings(home=tmp_path, database_url="", mqtt_host="127.0.0.1", mqtt_port=1883),
                         escalation=False)
        with TestClient(app):
            notifier = push._notifier
            assert notifier is not None and notifier.outbox.same_database(app.state.gs.engine)
            assert (notifier.mqtt.host, notifier.mqtt.port) == ("127.0.0.1", 1883)
        assert push._notifier is None  # stopped and removed with the app
    finally:
        push.set_notifier(old)


def _push_events(api) -> list[tuple[str, str]]:
    from sqlalchemy import select

    from api.db.push import PushEvent

    with api.app.state.gs.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(PushEvent.name, PushEvent.number))]


def _other_host(api, **kw):
    """A second API host's notifier: its own engine on the same ticket database."""
    from api import push

    return push.Notifier(api.app.state.gs.settings.sqlalchemy_url, retry_base_s=0.05, webhook_allow=("127.0.0.1",),
                         **kw)


def test_an_event_is_committed_with_its_change_and_outlives_the_push_thread(api):
    """The push thread dies right after a ticket change commits: the event is already in the
    database, and the next notifier on it (a restart, another host) delivers it."""
    receiver = Receiver()
    other = _other_host(api)
    try:
        r = api.client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=api.h("admin"))
        assert r.status_code == 201, r.text
        api.notifier.stop()
        t = api.incident("garbage", NORTH_WEST)
        assert ("created", t["number"]) in _push_events(api)
        assert receiver.requests == []
        other.start()
        assert other.flush(10)
        assert [json.loads(q["body"])["number"] for q in receiver.requests] == [t["number"]]
    finally:
        other.close()
        receiver.close()


def test_a_change_that_fails_to_commit_leaves_no_event(api):
    from sqlalchemy import select
    from sqlalchemy.exc import IntegrityError

    from api.db.models import Department
    from api.services import notify

    api.notifier.add_subscription("http://127.0.0.1:9/hook", SECRET)
    gs = api.app.state.gs
    with gs.sessions() as s:
        taken = s.scalars(select(Department.id)).first()
    assert taken
    with gs.sessions() as s:
        notify.queue_event(s, "ticket.updated", {"number": "GS-2026-900001"})
        s.add(Department(id=taken, name_en="a second department with the same id"))
        with pytest.raises(IntegrityError):
            notify.commit(s)
    with gs.sessions() as s:
        notify.queue_event(s, "ticket.updated", {"number": "GS-2026-900002"})
        notify.commit(s)
    events = _push_events(api)
    assert ("updated", "GS-2026-900002") in events
    assert not [e for e in events if e[1] == "GS-2026-900001"]


def test_two_hosts_share_subscriptions_and_send_each_event_once_in_order(api):
    receiver = Receiver()
    other = _other_host(api, senders=4)
    try:
        r = api.client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=api.h("admin"))
        assert r.status_code == 201, r.text
        assert [s.url for s in other.outbox.subscriptions()] == [receiver.url]  # made on the other host
        api.notifier.stop()
        sent = []
        for i in range(24):  # queued on both hosts while neither sends
            host = (api.notifier, other)[i % 2]
            sent.append(f"GS-2026-{800000 + i}")
            host.publish({"event": "updated", "number": sent[-1]})
        api.notifier.start()  # both start at once: each would claim a share of the queue
        other.start()
        assert api.notifier.flush(15) and other.flush(15)
        got = [json.loads(q["body"])["number"] for q in receiver.requests]
        assert got == sent  # every event, none twice, in order although two hosts send
        assert {d["state"] for d in other.log(limit=100)} == {"delivered"}
    finally:
        other.close()
        receiver.close()


# The outbox file every API host kept before migration 0004 ($GRIDSIGHT_HOME/push.db).
OLD_OUTBOX_SCHEMA = """
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL);
CREATE TABLE events (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, number TEXT NOT NULL, topic TEXT NOT NULL,
    body BLOB NOT NULL, created_at REAL NOT NULL);
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY, event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    target TEXT NOT NULL, subscription_id INTEGER, state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, claimed_until REAL,
    last_status INTEGER, last_error TEXT, created_at REAL NOT NULL, delivered_at REAL);
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_earlier_versions_outbox_file_is_moved_into_the_database(tmp_path, request, backend):
    """Upgrading loses no webhook subscription and no pending event of the per-host file."""
    from tests.interop.conftest import wipe_pg

    url = ""
    if backend == "postgresql":
        url = request.getfixturevalue("interop_pg_url")
        wipe_pg(url)
    import sqlite3
    import time

    from fastapi.testclient import TestClient

    from api import push
    from api.app import create_app
    from gridsight.settings import Settings

    receiver = Receiver()
    now = time.time()
    db = sqlite3.connect(tmp_path / "push.db")
    db.executescript(OLD_OUTBOX_SCHEMA)
    db.execute("INSERT INTO subscriptions VALUES (7, ?, ?, '', 1, ?)", (receiver.url, SECRET, now - 100))
    for eid, state in (("old-delivered", "delivered"), ("old-pending", "pending")):
        body = json.dumps({"id": eid, "event": "status", "number": "GS-2026-000042"}).encode()
        db.execute("INSERT INTO events VALUES (?, 'status', 'GS-2026-000042', 'gridsight/tickets/GS-2026-000042/status', "
                   "?, ?)", (eid, body, now - 50))
        db.execute("INSERT INTO deliveries (event_id, target, subscription_id, state, attempts, next_at, created_at) "
                   "VALUES (?, 'webhook', 7, ?, 3, ?, ?)", (eid, state, now - 1, now - 50))
    db.commit()
    db.close()

    old = push.set_notifier(None)
    try:
        app = create_app(Settings(home=tmp_path, database_url=url, mqtt_host="", api_key="",
                                  webhook_allow=["127.0.0.1"]), escalation=False)
        with TestClient(app):
            notifier = push._notifier
            assert [s.url for s in notifier.outbox.subscriptions()] == [receiver.url]
            assert notifier.flush(10)
            [req] = receiver.requests  # the pending one went out, signed with the old secret
            assert req["headers"]["X-GridSight-Delivery"] == "old-pending"
            assert verify_signature(SECRET, req["body"], req["headers"]["X-GridSight-Signature"])
            log = {d["event_id"]: (d["state"], d["attempts"]) for d in notifier.log()}
            assert log == {"old-delivered": ("delivered", 3), "old-pending": ("delivered", 4)}
        assert not (tmp_path / "push.db").exists() and (tmp_path / "push.db.imported").is_file()
        with TestClient(create_app(Settings(home=tmp_path, database_url=url, mqtt_host="", api_key="",
                                  webhook_allow=["127.0.0.1"]),
                                   escalation=False)):
            assert len(push._notifier.outbox.subscriptions()) == 1  # moved once
    finally:
        push.set_notifier(old)
        receiver.close()
