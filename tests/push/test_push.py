"""Push of ticket events: real Mosquitto on 127.0.0.1:1883 and real loopback webhook receivers."""

from __future__ import annotations

import json
import queue
from contextlib import contextmanager
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.push import Notifier, SIGNATURE_HEADER, sign, verify_signature
from tests.services import free_port

SECRET = "webhook-secret-0123456789"
LOOPBACK = ("127.0.0.1",)  # the receivers listen on loopback: an internal address webhooks must be allowed
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


def number() -> str:
    return f"GS-2026-{uuid.uuid4().int % 10**9:09d}"


class Receiver:
    """A loopback HTTP server recording webhook requests; ``answers`` scripts its status codes."""

    def __init__(self, answers=(), port: int = 0, gate: threading.Event | None = None):
        self.requests: list[dict] = []
        self.answers = list(answers)
        self.gate = gate
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                receiver.arrived.set()
                if receiver.gate:
                    receiver.gate.wait(10)
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/gridsight"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(*args, **kw):
        made.append(Receiver(*args, **kw))
        return made[-1]
    yield make
    for r in made:
        if r.gate:
            r.gate.set()
        r.close()


@pytest.fixture
def notifier(tmp_path):
    made = []

    def make(**kw):
        kw.setdefault("retry_base_s", 0.05)
        kw.setdefault("webhook_allow", LOOPBACK)
        n = Notifier(tmp_path / "push.db", **kw).start()
        made.append(n)
        return n
    yield make
    for n in made:
        n.close()


@pytest.fixture(scope="module")
def mosquitto():
    try:
        socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2).close()
    except OSError:
        pytest.skip(f"no MQTT broker on {MQTT_HOST}:{MQTT_PORT} (scripts/services.sh starts Mosquitto)")
    return MQTT_HOST, MQTT_PORT


def event(name="created", **extra) -> dict:
    return {"event": name, "number": extra.pop("number", None) or number(), "ticket_id": 7,
            "status": "new", "issue_type": "illegal_parking", "name_zh": "违章停车", **extra}


# --- MQTT -----------------------------------------------------------------------------------

@contextmanager
def mqtt_subscriber(topic: str = "gridsight/tickets/#"):
    """A real MQTT client subscribed (QoS 1) on the broker; yields a queue of received messages."""
    import paho.mqtt.client as mqtt

    got: queue.Queue = queue.Queue()
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:6]}")
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.put(m)
    sub.connect(MQTT_HOST, MQTT_PORT)
    sub.loop_start()
    try:
        assert subscribed.wait(10), "test subscriber could not subscribe"
        yield got
    finally:
        sub.loop_stop()
        sub.disconnect()


def messages_for(got: queue.Queue, number: str, count: int, timeout: float = 15) -> list:
    """The next ``count`` messages about ticket ``number`` (other tests may publish too)."""
    mine = []
    while len(mine) < count:
        m = got.get(timeout=timeout)
        if m.topic.startswith(f"gridsight/tickets/{number}/"):
            mine.append(m)
    return mine


def test_mqtt_subscriber_receives_the_event_with_qos1(mosquitto, notifier):
    with mqtt_subscriber() as got:
        n = notifier(mqtt_host=mosquitto[0], mqtt_port=mosquitto[1])
        ev = event("status", from_status="new", to_status="dispatched")
        event_id = n.publish(ev)
        [m] = messages_for(got, ev["number"], 1)
        assert m.topic == f"gridsight/tickets/{ev['number']}/status"
        assert m.qos == 1
        payload = json.loads(m.payload)
        assert payload["id"] == event_id and payload["event"] == "status"
        assert payload["to_status"] == "dispatched" and payload["name_zh"] == "违章停车"
        assert n.flush(10)
        [entry] = n.log(event_id=event_id)
        assert entry["target"] == "mqtt" and entry["state"] == "delivered" and entry["attempts"] == 1


def test_mqtt_broker_down_keeps_the_event_pending(notifier):
    n = notifier(mqtt_host="127.0.0.1", mqtt_port=free_port(), retry_base_s=60, http_timeout_s=1)
    event_id = n.publish(event())
    assert not n.flush(2.5)  # nothing to deliver to: it waits, it is not dropped
    [entry] = n.log(event_id=event_id)
    assert entry["state"] == "pending" and entry["attempts"] >= 1
    assert "not connected to MQTT broker" in entry["last_error"]


# --- webhooks --------------------------------------------------------------------------------

def test_webhook_body_is_signed_and_verifiable(notifier, receivers):
    r = receivers()
    n = notifier()
    n.add_subscription(r.url, SECRET)
    ev = event()
    event_id = n.publish(ev)
    assert n.flush(10)
    [req] = r.requests
    body, headers = req["body"], req["headers"]
    assert req["path"] == "/hooks/gridsight"
    at = int(headers[SIGNATURE_HEADER].split(",")[0].removeprefix("t="))
    assert headers[SIGNATURE_HEADER] == sign(SECRET, body, at) and abs(at - time.time()) < 60
    assert headers[SIGNATURE_HEADER].split(",")[1].startswith("sha256=")
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("another-secret-0123456", body, headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, body.replace(b"new", b"old"), headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, body, None)
    assert headers["X-GridSight-Event"] == "created" and headers["X-GridSight-Delivery"] == event_id
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert payload["number"] == ev["number"] and payload["id"] == event_id and "at" in payload


def test_failing_receiver_is_retried_until_it_succeeds(notifier, receivers):
    r = receivers(answers=[500, 503])
    n = notifier(retry_base_s=0.1)
    n.add_subscription(r.url, SECRET)
    event_id = n.publish(event("updated"))
    assert n.flush(15)
    assert len(r.requests) == 3
    assert len({req["body"] for req in r.requests}) == 1  # the same signed body every time
    assert {req["headers"]["X-GridSight-Delivery"] for req in r.requests} == {event_id}
    [entry] = n.log(event_id=event_id)
    assert entry["state"] == "delivered" and entry["attempts"] == 3 and entry["last_status"] == 200


def test_receiver_that_never_succeeds_is_given_up_and_logged(notifier, receivers):
    r = receivers(answers=[500] * 10)
    n = notifier(retry_base_s=0.05, max_attempts=3)
    n.add_subscription(r.url, SECRET)
    event_id = n.publish(event())
    assert n.flush(15)
    assert len(r.requests) == 3
    [entry] = n.log(event_id=event_id)
    assert entry["state"] == "failed" and entry["attempts"] == 3
    assert entry["last_status"] == 500 and "HTTP 500" in entry["last_error"]


def test_publish_does_not_wait_for_a_slow_receiver(notifier, receivers):
    gate = threading.Event()
    r = receivers(gate=gate)
    n = notifier()
    n.add_subscription(r.url, SECRET)
    event_id = n.publish(event())  # returns while the receiver holds the request open
    assert r.arrived.wait(10)
    assert not gate.is_set()
    [entry] = n.log(event_id=event_id)
    assert entry["state"] == "pending"
    gate.set()
    assert n.flush(10)
    assert n.log(event_id=event_id)[0]["state"] == "delivered"


def test_pending_deliveries_survive_a_restart(tmp_path, receivers):
    port = free_port()  # nobody listens yet
    first = Notifier(tmp_path / "push.db", retry_base_s=0.05, http_timeout_s=1, webhook_allow=LOOPBACK).start()
    first.add_subscription(f"http://127.0.0.1:{port}/hook", SECRET)
    event_id = first.publish(event())
    assert not first.flush(1)
    first.close()
    r = receivers(port=port)
    second = Notifier(tmp_path / "push.db", retry_base_s=0.05, webhook_allow=LOOPBACK).start()
    try:
        assert second.flush(15)
        [entry] = second.log(event_id=event_id)
        assert entry["state"] == "delivered" and entry["attempts"] >= 2
        assert len(r.requests) == 1 and r.requests[0]["headers"]["X-GridSight-Delivery"] == event_id
    finally:
        second.close()


def test_subscriptions_filter_events_and_can_be_removed(notifier, receivers):
    every, status_only = receivers(), receivers()
    n = notifier()
    n.add_subscription(every.url, SECRET)
    sub = n.add_subscription(status_only.url, SECRET, events=("status",))
    n.publish(event("created"))
    n.publish(event("status"))
    assert n.flush(10)
    assert [json.loads(q["body"])["event"] for q in every.requests] == ["created", "status"]
    assert [json.loads(q["body"])["event"] for q in status_only.requests] == ["status"]
    assert n.remove_subscription(sub.id) and not n.remove_subscription(sub.id)
    n.publish(event("status"))
    assert n.flush(10)
    assert len(status_only.requests) == 1 and len(every.requests) == 3


def test_bad_events_and_subscriptions_are_refused(notifier):
    n = notifier()
    assert n.publish(event()) is None  # nobody listens: nothing stored
    with pytest.raises(ValueError, match="number"):
        n.publish({"event": "created"})
    with pytest.raises(ValueError, match="event"):
        n.publish({"event": "Created!", "number": "GS-2026-000001"})
    with pytest.raises(ValueError, match="URL"):
        n.add_subscription("ftp://example", SECRET)
    with pytest.raises(ValueError, match="16 characters"):
        n.add_subscription("http://127.0.0.1:9/x", "short")
    assert n.log() == []


def test_service_layer_event_shape_is_accepted(notifier, receivers):
    """api/services/notify.py hands over {"event": "ticket.status_changed", "ticket": {...}, ...}."""
    r = receivers()
    n = notifier()
    n.add_subscription(r.url, SECRET, events=("status",))
    num = number()
    event_id = n.publish({"event": "ticket.status_changed", "ticket": {"id": 5, "number": num, "status": "dispatched"},
                          "action": "dispatch", "from_status": "new", "to_status": "dispatched"})
    assert n.flush(10)
    [req] = r.requests
    payload = json.loads(req["body"])
    assert payload["event"] == "status" and payload["number"] == num and payload["id"] == event_id
    assert payload["ticket"]["status"] == "dispatched" and payload["to_status"] == "dispatched"
    assert n.log(event_id=event_id)[0]["topic"] == f"gridsight/tickets/{num}/status"
