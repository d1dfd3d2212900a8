"""A ticket change in the API reaches an MQTT subscriber on the real Mosquitto (127.0.0.1:1883)."""

from __future__ import annotations

import json
import queue
import threading
import uuid

from tests.interop.conftest import NORTH_WEST, make_api
from tests.push.test_push import MQTT_HOST, MQTT_PORT, mosquitto  # noqa: F401  (fixture)


def test_ticket_created_and_status_changed_are_published(tmp_path, mosquitto):
    import paho.mqtt.client as mqtt

    got: queue.Queue = queue.Queue()
    subscribed = threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-{uuid.uuid4().hex[:6]}")
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("gridsight/tickets/+/+", qos=1)
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.on_message = lambda c, u, m: got.put((m.topic, json.loads(m.payload)))
    sub.connect(MQTT_HOST, MQTT_PORT)
    sub.loop_start()
    api, close = make_api(tmp_path, mqtt_host=MQTT_HOST, mqtt_port=MQTT_PORT)
    try:
        assert subscribed.wait(10)
        t = api.incident("garbage", NORTH_WEST)
        api.act(t["number"], "reject", reason="a plastic bag, blown away")
        mine = []
        while len(mine) < 2:
            topic, payload = got.get(timeout=15)
            if payload.get("number") == t["number"]:
                mine.append((topic, payload))
        assert [topic for topic, _ in mine] == [f"gridsight/tickets/{t['number']}/created",
                                                f"gridsight/tickets/{t['number']}/status"]
        created, status = (p for _, p in mine)
        assert created["ticket"]["issue_type"] == "garbage" and created["ticket"]["name_zh"] == "暴露垃圾"
        assert (status["from_status"], status["to_status"]) == (t["status"], "rejected")
        assert api.notifier.flush(10)
        assert {d["state"] for d in api.notifier.log()} == {"delivered"}
    finally:
        close()
        sub.loop_stop()
        sub.disconnect()
