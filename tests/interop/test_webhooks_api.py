"""/api/v1/webhooks: admins subscribe URLs; ticket changes reach them signed; the delivery log shows it."""

from __future__ import annotations

import json

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
            assert notifier is not None and notifier.outbox.path == tmp_path / "push.db"
            assert (notifier.mqtt.host, notifier.mqtt.port) == ("127.0.0.1", 1883)
        assert push._notifier is None  # stopped and removed with the app
    finally:
        push.set_notifier(old)
