"""The notifier: takes ticket events, keeps them in the outbox, delivers them in the background.

``stage`` writes a ticket change's event into the outbox inside the change's own transaction
(the service layer does this just before it commits); ``publish`` does the same in a
transaction of its own. Neither waits on a broker or a receiver: the delivery thread is woken
once the event is committed. Several notifiers (one per API host) can share one database.
The delivery thread sends due deliveries through a small pool (MQTT QoS 1 and webhook POSTs),
retries failures with exponential backoff, and records every attempt in the delivery log.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import httpx
from sqlalchemy import Connection, Engine

from api.push import webhooks
from api.push.mqtt import MqttLink, topic_for
from api.push.outbox import Delivery, Outbox, Subscription, durable

log = logging.getLogger("gridsight.push")

_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


ALIASES = {"status_changed": "status"}
HELD_RECHECK_S = 0.25  # how often a sender looks at due deliveries that another sender's target lease holds
MIN_IDLE_S = 0.02  # the least time between two claims that found nothing


def event_name(raw) -> str:
    """``ticket.status_changed`` -> ``status``, ``ticket.created`` -> ``created``; '' if not text."""
    if not isinstance(raw, str):
        return ""
    name = raw.removeprefix("ticket.")
    return ALIASES.get(name, name)


class Notifier:
    """Push of ticket events to MQTT and webhook subscribers, at least once."""

    def __init__(self, store: Engine | str | Path, mqtt_host: str = "", mqtt_port: int = 1883, *,
                 retry_base_s: float = 2.0, retry_max_s: float = 600.0, max_attempts: int = 20,
                 http_timeout_s: float = 5.0, senders: int = 4, retention_s: float = 7 * 86400,
                 webhook_allow: tuple[str, ...] | list[str] = ()):
        self.outbox = Outbox(store)  # the ticket database (engine or URL), or a SQLite file of its own
        self.mqtt = MqttLink(mqtt_host, mqtt_port) if mqtt_host else None
        self.retry_base_s, self.retry_max_s = retry_base_s, retry_max_s
        self.max_attempts, self.http_timeout_s = max_attempts, http_timeout_s
        self.retention_s = retention_s
        self.webhook_allow = tuple(webhook_allow)  # internal hosts/networks webhooks may reach (webhooks.py)
        self._senders = senders
        self._http = httpx.Client(timeout=http_timeout_s, follow_redirects=False)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subs: list[Subscription] = []
        self._subs_at = 0.0

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> Notifier:
        if self._thread is None:
            if self.mqtt:
                self.mqtt.start()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gridsight-push", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop delivering; what is still pending stays in the outbox for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout)
            self._thread = None
        if self.mqtt:
            self.mqtt.stop()

    def close(self) -> None:
        self.stop()
        self._http.close()
        self.outbox.close()

    # --- subscriptions ------------------------------------------------------------------------
    def add_subscription(self, url: str, secret: str, events: tuple[str, ...] = ()) -> Subscription:
        if not re.match(r"^https?://[^\s/]+", url):
            raise ValueError(f"webhook URL must be http(s)://host/..., not {url!r}")
        webhooks.check_target(url, self.webhook_allow)  # TargetRefused is a ValueError
        if len(secret) < 16:
            raise ValueError("webhook secret must be at least 16 characters")
        bad = [e for e in events if not _EVENT_NAME.match(e)]
        if bad:
            raise ValueError(f"bad event names {bad}: lower-case words like created, status")
        sub = self.outbox.add_subscription(url, secret, tuple(events))
        self._subs_at = 0.0
        return sub

    def remove_subscription(self, sub_id: int) -> bool:
        removed = self.outbox.remove_subscription(sub_id)
        self._subs_at = 0.0
        return removed

    def subscriptions(self, conn: Connection | None = None) -> list[Subscription]:
        """Active subscriptions, re-read at most every 5 s (other hosts may have changed them);
        on ``conn`` when given (see :meth:`Outbox.subscriptions`)."""
        if time.monotonic() - self._subs_at > 5.0:
            self._subs = self.outbox.subscriptions(conn=conn)
            self._subs_at = time.monotonic()
        return self._subs

    # --- publishing ---------------------------------------------------------------------------
    def publish(self, event: dict) -> str | None:
        """Queue one ticket event for every target, in a transaction of its own; returns its id
        (None: nobody listens). See :meth:`stage` for what ``event`` holds."""
        with self.outbox.engine.begin() as conn:
            durable(conn)
            event_id = self.stage(event, conn)
        self.wake()
        return event_id

    def stage(self, event: dict, conn: Connection) -> str | None:
        """Write one ticket event and its deliveries on ``conn``, inside the caller's transaction
        (nothing is sent before it commits: call :meth:`wake` after the commit). Returns the
        event id, or None when nobody listens.

        ``event`` needs ``event`` (a name such as ``created``, ``updated``, ``status``; the
        service layer's ``ticket.created`` / ``ticket.status_changed`` forms are accepted and
        shortened, see :func:`event_name`) and the ticket number, as ``number`` or
        ``ticket.number``; everything else is passed through as JSON.
        """
        name = event_name(event.get("event"))
        number = event.get("number") or (event.get("ticket") or {}).get("number")
        if not _EVENT_NAME.match(name):
            raise ValueError(f"ticket event needs 'event': a lower-case name, got {event.get('event')!r}")
        if not isinstance(number, str) or not _NUMBER.match(number):
            raise ValueError(f"ticket event needs 'number' (or ticket.number): the ticket number, got {number!r}")
        targets: list[tuple[str, int | None]] = [("mqtt", None)] if self.mqtt else []
        targets += [("webhook", s.id) for s in self.subscriptions(conn) if s.wants(name)]
        if not targets:
            return None
        event_id = str(uuid.uuid4())
        payload = {"id": event_id, "at": datetime.now(timezone.utc).isoformat(), **event,
                   "event": name, "number": number}
        payload["id"] = event_id
        body = json.dumps(payload, default=str, ensure_ascii=False, separators=(",", ":")).encode()
        self.outbox.add_event(event_id, name, number, topic_for(number, name), body, targets, conn)
        return event_id

    def wake(self) -> None:
        """Look for due deliveries now (after events were committed)."""
        self._wake.set()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is pending (delivered or given up); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.next_due_in() is None:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.outbox.next_due_in() is None

    def log(self, limit: int = 100, event_id: str | None = None, state: str | None = None) -> list[dict]:
        return self.outbox.log(limit, event_id, state)

    # --- delivery -----------------------------------------------------------------------------
    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts`` (1, 2, ...): doubling, capped, +-10 % jitter."""
        delay = min(self.retry_max_s, self.retry_base_s * 2 ** (attempts - 1))
        return delay * random.uniform(0.9, 1.1)

    def _run(self) -> None:
        lease = self.http_timeout_s * 2 + 10
        last_prune = 0.0
        with ThreadPoolExecutor(self._senders, thread_name_prefix="gridsight-push-send") as pool:
            while not self._stop.is_set():
                self._wake.clear()
                try:
                    batch = self.outbox.claim_due(self._senders * 4, lease)
                    if batch:
                        # in order per target (a subscriber or the broker), targets in parallel
                        per_target: dict[tuple, list[Delivery]] = {}
                        for d in batch:
                            per_target.setdefault((d.target, d.subscription_id), []).append(d)
                        subs = ({s.id: s for s in self.outbox.subscriptions(active_only=False)}
                                if any(d.target == "webhook" for d in batch) else {})
                        done = pool.map(lambda ds: self._deliver_in_order(ds, subs), per_target.values())
                        self.outbox.mark_delivered([ok for oks in done for ok in oks])  # one commit a batch
                        continue
                    if time.monotonic() - last_prune > 3600:
                        self.outbox.prune(self.retention_s)
                        last_prune = time.monotonic()
                    due = self.outbox.next_due_in()
                    if due == 0:  # due, but its target is being sent by another sender, which goes on
                        due = HELD_RECHECK_S  # to it next; look again shortly (its lease may lapse)
                        self._stop.wait(MIN_IDLE_S)  # and let wake-ups not turn this into a spin
                except Exception:  # the database may be away for a while; keep trying, say why
                    log.exception("push outbox error")
                    due = 5.0
                self._wake.wait(5.0 if due is None else min(max(due, 0.01), 5.0))

    def _deliver_in_order(self, deliveries: list[Delivery], subs: dict[int, Subscription]) -> list[tuple]:
        """Send one target's deliveries one after another; ``(id, status)`` of those acknowledged
        (a failure is recorded at once, with its retry time)."""
        done = []
        for d in deliveries:
            try:
                status, error = self._send(d, subs)
            except Exception as e:  # never let one delivery kill the thread
                status, error = None, f"{type(e).__name__}: {e}"
            if not error:
                done.append((d.id, status))
                continue
            attempt = d.attempts + 1
            give_up = attempt >= self.max_attempts or error.startswith("gone:")
            next_at = None if give_up else time.time() + self.backoff(attempt)
            self.outbox.mark_retry(d.id, status, error.removeprefix("gone: "), next_at)
            log.warning("push delivery failed%s", " (giving up)" if give_up else ", will retry",
                        extra={"target": d.target, "topic": d.topic, "attempt": attempt, "error": error})
        return done

    def _send(self, d: Delivery, subs: dict[int, Subscription]) -> tuple[int | None, str]:
        if d.target == "mqtt":
            if not self.mqtt:
                return None, "gone: MQTT is not configured (GRIDSIGHT_MQTT_HOST)"
            return None, self.mqtt.publish(d.topic, d.body, timeout=self.http_timeout_s)
        sub = subs.get(d.subscription_id)
        if sub is None or not sub.active:
            return None, "gone: subscription removed"
        name = d.topic.rsplit("/", 1)[-1]
        out = webhooks.post(self._http, sub.url, sub.secret, d.body, name, d.event_id, self.webhook_allow)
        return out.status, "" if out.ok else out.error
