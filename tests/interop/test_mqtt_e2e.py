"""A ticket change in the API reaches an MQTT subscriber on the real Mosquitto (127.0.0.1:1883)."""

from __future__ import annotations

import json

from tests.interop.conftest import NORTH_WEST, make_api
from tests.push.test_push import MQTT_HOST, MQTT_PORT, messages_for, mosquitto, mqtt_subscriber  # noqa: F401


def test_ticket_created_and_status_changed_are_published(tmp_path, mosquitto):
    api, close = make_api(tmp_path, mqtt_host=MQTT_HOST, mqtt_port=MQTT_PORT)
    try:
        with mqtt_subscriber("gridsight/tickets/+/+") as got:
            t = api.incident("garbage", NORTH_WEST)
            api.act(t["number"], "reject", reason="a plastic bag, blown away")
            mine = messages_for(got, t["number"], 2)
        assert [m.topic for m in mine] == [f"gridsight/tickets/{t['number']}/created",
                                           f"gridsight/tickets/{t['number']}/status"]
        created, status = (json.loads(m.payload) for m in mine)
        assert created["ticket"]["issue_type"] == "garbage" and created["ticket"]["name_zh"] == "暴露垃圾"
        assert (status["from_status"], status["to_status"]) == (t["status"], "rejected")
        assert api.notifier.flush(10)
        assert {d["state"] for d in api.notifier.log()} == {"delivered"}
    finally:
        close()
