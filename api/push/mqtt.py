"""MQTT publishing of ticket events (paho-mqtt, QoS 1).

Topics are ``gridsight/tickets/<number>/<event>``, e.g. ``gridsight/tickets/GS-2026-000123/created``;
subscribe to ``gridsight/tickets/#`` for everything or ``gridsight/tickets/+/status`` for
status changes. The payload is the event's JSON (the same bytes a webhook gets).
"""

from __future__ import annotations

import logging
import threading
import uuid

log = logging.getLogger("gridsight.push.mqtt")

TOPIC_ROOT = "gridsight/tickets"


def topic_for(number: str, event: str) -> str:
    return f"{TOPIC_ROOT}/{number}/{event}"


class MqttLink:
    """One connection to the broker, kept up in paho's network thread (reconnects by itself)."""

    def __init__(self, host: str, port: int = 1883, client_id: str | None = None,
                 keepalive: int = 30):
        import paho.mqtt.client as mqtt

        self.host, self.port = host, port
        self._connected = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                  client_id=client_id or f"gridsight-api-{uuid.uuid4().hex[:8]}")
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self._keepalive = keepalive
        self._started = False

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            self._connected.set()
            log.info("MQTT connected", extra={"broker": f"{self.host}:{self.port}"})
        else:
            log.warning("MQTT connection refused", extra={"reason": str(reason_code)})

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        self._connected.clear()

    def start(self) -> None:
        if self._started:
            return
        self.client.connect_async(self.host, self.port, keepalive=self._keepalive)
        self.client.loop_start()
        self._started = True

    def stop(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(self, topic: str, payload: bytes, timeout: float = 5.0) -> str:
        """Publish with QoS 1 and wait for the broker's PUBACK; '' on success, else why not."""
        if not self.wait_connected(min(timeout, 2.0)):
            return f"not connected to MQTT broker {self.host}:{self.port}"
        try:
            info = self.client.publish(topic, payload, qos=1)
            info.wait_for_publish(timeout)
            if not info.is_published():
                return f"no PUBACK from {self.host}:{self.port} within {timeout:.0f} s"
        except (RuntimeError, ValueError) as e:
            return f"MQTT publish failed: {e}"
        return ""
