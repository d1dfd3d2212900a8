"""Delivery to the ticket API: incident events -> contract payloads -> outbox -> HTTP.

:func:`incident_payload` writes the body of ``POST /api/v1/incidents`` (docs/incident-contract.md).
:class:`Courier` is the one thread that empties the outbox in order: multipart with the incident
JSON and the evidence JPEGs, the incident key making every retry idempotent. Connection errors,
timeouts, 408, 429, 5xx and 401/403 (a key not (yet) registered: fix the key, nothing is lost)
are retried with exponential backoff (up to ``max_backoff_s``); any other 4xx is a message the
API will never take: it is marked rejected and logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timezone

import httpx

from pipeline.incidents import IncidentEvent
from pipeline.outbox import Message, Outbox

log = logging.getLogger("gridsight.pipeline.client")
RETRYABLE = {401, 403, 408, 425, 429}


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")


def incident_payload(event: IncidentEvent, *, location: dict | None = None, source: str = "camera",
                     job_id: str | None = None) -> dict:
    r = event.rule
    body = {
        "key": event.key, "seq": event.seq, "event": event.event, "issue_type": r.issue_type,
        "category_code": r.category or None, "name_en": r.name_en or None, "name_zh": r.name_zh or None,
        "severity": r.severity, "source": source, "camera_id": event.camera_id, "zone_id": event.zone_id,
        "job_id": job_id, "first_seen": iso(event.first_seen), "last_seen": iso(event.last_seen),
        "score": round(float(max(event.score, 0.0)), 4), "detections": event.detections,
    }
    if location:
        body["location"] = {k: location.get(k) for k in ("lat", "lon", "address")}
    return {k: v for k, v in body.items() if v is not None or k in ("camera_id", "zone_id")}


class TicketClient:
    def __init__(self, api_url: str, api_key: str = "", *, timeout_s: float = 15.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.url = api_url.rstrip("/") + "/api/v1/incidents"
        self.http = httpx.Client(timeout=timeout_s, headers=headers, trust_env=False)

    def post(self, payload: dict, annotated: bytes | None = None, raw: bytes | None = None) -> httpx.Response:
        files = {}
        if annotated:
            files["evidence_annotated"] = ("annotated.jpg", annotated, "image/jpeg")
        if raw:
            files["evidence_raw"] = ("raw.jpg", raw, "image/jpeg")
        if files:
            data = {"incident": json.dumps(payload, ensure_ascii=False)}
            return self.http.post(self.url, data=data, files=files)
        return self.http.post(self.url, json=payload)

    def close(self) -> None:
        self.http.close()


class Courier:
    """Empties the outbox into the ticket API, in order, until stopped."""

    def __init__(self, outbox: Outbox, client: TicketClient, *, min_backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0) -> None:
        self.outbox, self.client = outbox, client
        self.min_backoff_s, self.max_backoff_s = min_backoff_s, max_backoff_s
        self.sent = 0
        self.failures = 0
        self.created: set[str] = set()  # incident keys whose ticket the API made (201)
        self.answered: set[str] = set()  # incident keys the API took (200 or 201)
        self.online: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Courier":
        self._thread = threading.Thread(target=self._run, name="courier", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 0.0) -> None:
        """Stop; with ``drain_s`` first wait that long for the outbox to empty."""
        deadline = time.monotonic() + drain_s
        while drain_s and time.monotonic() < deadline and self.outbox.counts()["pending"]:
            time.sleep(0.1)
        self._stop.set()
        self.outbox.added.set()
        if self._thread:
            self._thread.join(timeout=30)

    def deliver_one(self) -> float:
        """Try the head of the outbox once; returns how long to wait before the next try."""
        msg, wait = self.outbox.head()
        if msg is None:
            return wait
        try:
            resp = self.client.post(msg.payload, msg.annotated, msg.raw)
        except httpx.HTTPError as exc:
            return self._later(msg, f"{type(exc).__name__}: {exc}")
        if resp.status_code < 300:
            self.outbox.delivered(msg.id)
            self.sent += 1
            self.answered.add(msg.key)
            if resp.status_code == 201:
                self.created.add(msg.key)
            self._up()
            return 0.0
        if resp.status_code in RETRYABLE or resp.status_code >= 500:
            return self._later(msg, f"HTTP {resp.status_code}: {resp.text[:200]}")
        self.outbox.reject(msg.id, f"HTTP {resp.status_code}: {resp.text[:1500]}")
        log.error("ticket API rejected an incident", extra={"key": msg.key, "seq": msg.seq,
                                                              "status": resp.status_code, "body": resp.text[:500]})
        self._up()
        return 0.0

    def _later(self, msg: Message, error: str) -> float:
        self.failures += 1
        delay = min(self.max_backoff_s, self.min_backoff_s * (2 ** min(msg.attempts, 10)))
        self.outbox.retry_later(msg.id, error, delay)
        if self.online is not False:
            log.warning("ticket API unreachable, incidents wait in the outbox", extra={"error": error})
        self.online = False
        return delay

    def _up(self) -> None:
        if self.online is False:
            log.info("ticket API reachable again")
        self.online = True

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.deliver_one()
            if wait > 0:
                self.outbox.added.clear()
                self.outbox.added.wait(min(wait, 1.0))
