"""Delivery to the ticket API: the one client the live pipeline, archive jobs and camera
verification post through.

:func:`incident_payload` fills the incident contract (:class:`gridsight.incident.IncidentIn`)
from an incident event. :class:`TicketClient` posts incidents and verification results
(multipart when there are evidence JPEGs) and sorts every answer by one retry policy
(:func:`verdict`): connection errors, timeouts, 408, 425, 429, 5xx and 401/403 (a key not (yet)
registered: fix the key, nothing is lost) are worth another try after :func:`backoff`; any other
4xx is a message the API will never take. Retries are harmless: an incident's ``(key, seq)`` is
its idempotency key (a repeated post changes nothing), a verification is tied to the resolve it
checks. :class:`Courier` is the thread that empties the live pipeline's outbox in order.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx

from gridsight.incident import IncidentIn, incident_body
from pipeline.incidents import IncidentEvent
from pipeline.outbox import Message, Outbox

log = logging.getLogger("gridsight.pipeline.client")
RETRYABLE = frozenset({401, 403, 408, 425, 429})  # and every 5xx


def backoff(attempts: int, min_s: float = 0.5, max_s: float = 30.0) -> float:
    """Seconds before try ``attempts + 1``: doubling from ``min_s``, at most ``max_s``."""
    return min(max_s, min_s * 2 ** min(attempts, 10))


def incident_payload(event: IncidentEvent, *, location: dict | None = None, source: str = "camera",
                     job_id: str | None = None) -> dict:
    r = event.rule
    where = {k: location.get(k) for k in ("lat", "lon", "address")} if location else {}
    incident = IncidentIn(
        key=event.key, seq=event.seq, event=event.event, issue_type=r.issue_type, category_code=r.category or None,
        name_en=r.name_en or None, name_zh=r.name_zh or None, severity=r.severity, source=source,
        camera_id=event.camera_id, zone_id=event.zone_id, job_id=job_id, first_seen=utc(event.first_seen),
        last_seen=utc(event.last_seen), score=round(float(max(event.score, 0.0)), 4), detections=event.detections,
        location=where if where.get("lat") is not None and where.get("lon") is not None else None)
    return incident_body(incident)


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


@dataclass
class Answer:
    """What became of one post: ``delivered``, ``retry`` (later, after :func:`backoff`) or ``rejected``."""

    verdict: str
    status: int | None
    detail: str
    body: dict | None = None


def verdict(status: int) -> str:
    if status < 300:
        return "delivered"
    return "retry" if status in RETRYABLE or status >= 500 else "rejected"


class TicketClient:
    def __init__(self, api_url: str, api_key: str = "", *, timeout_s: float = 15.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.url = api_url.rstrip("/")  # where it delivers (the CLI's summary names it)
        self.api = self.url + "/api/v1"
        self.http = httpx.Client(timeout=timeout_s, headers=headers, trust_env=False)

    def post_incident(self, payload: dict, annotated: bytes | None = None, raw: bytes | None = None) -> Answer:
        return self._post("/incidents", "incident", payload, annotated, raw)

    def post_verification(self, ticket_id: int, result: dict, images: tuple[bytes, bytes] | None = None) -> Answer:
        return self._post(f"/tickets/{ticket_id}/verification", "result", result, *(images or (None, None)))

    def pending_verifications(self, cameras: list[str]) -> list[dict]:
        """Resolved tickets of ``cameras`` waiting for a camera check (raises httpx/ValueError errors)."""
        r = self.http.get(f"{self.api}/verifications/pending", params={"camera": cameras})
        r.raise_for_status()
        return r.json()

    def _post(self, path: str, part: str, body: dict, annotated: bytes | None, raw: bytes | None) -> Answer:
        files = {}
        if annotated:
            files["evidence_annotated"] = ("annotated.jpg", annotated, "image/jpeg")
        if raw:
            files["evidence_raw"] = ("raw.jpg", raw, "image/jpeg")
        try:
            if files:
                r = self.http.post(self.api + path, data={part: json.dumps(body, ensure_ascii=False)}, files=files)
            else:
                r = self.http.post(self.api + path, json=body)
        except httpx.HTTPError as exc:
            return Answer("retry", None, f"{type(exc).__name__}: {exc}")
        v = verdict(r.status_code)
        try:
            answer = r.json() if v == "delivered" else None
        except ValueError:
            answer = None
        return Answer(v, r.status_code, f"HTTP {r.status_code}: {r.text[:1500]}", answer)

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
        answer = self.client.post_incident(msg.payload, msg.annotated, msg.raw)
        if answer.verdict == "retry":
            return self._later(msg, answer.detail[:200])
        if answer.verdict == "delivered":
            self.outbox.delivered(msg.id)
            self.sent += 1
            self.answered.add(msg.key)
            if answer.status == 201:
                self.created.add(msg.key)
        else:
            self.outbox.reject(msg.id, answer.detail)
            log.error("ticket API rejected an incident", extra={"key": msg.key, "seq": msg.seq,
                                                                  "status": answer.status, "body": answer.detail[:500]})
        self._up()
        return 0.0

    def _later(self, msg: Message, error: str) -> float:
        self.failures += 1
        delay = backoff(msg.attempts, self.min_backoff_s, self.max_backoff_s)
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
