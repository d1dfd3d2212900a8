"""Webhook deliveries: HMAC-SHA256 signed JSON bodies POSTed to subscribers.

Every request carries::

    Content-Type: application/json
    X-GridSight-Event: <event name, e.g. created>
    X-GridSight-Delivery: <event id (uuid); the same on every retry: de-duplicate with it>
    X-GridSight-Signature: sha256=<hex HMAC-SHA256 of the raw body with the subscription secret>

A receiver checks the signature over the raw bytes it got (before parsing), e.g.
``verify_signature(secret, body, request.headers["X-GridSight-Signature"])``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import httpx

SIGNATURE_HEADER = "X-GridSight-Signature"
EVENT_HEADER = "X-GridSight-Event"
DELIVERY_HEADER = "X-GridSight-Delivery"


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``: ``sha256=<hex>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant-time)."""
    return bool(header) and hmac.compare_digest(sign(secret, body), header.strip())


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


def post(client: httpx.Client, url: str, secret: str, body: bytes, event: str, event_id: str) -> Outcome:
    """One delivery attempt; 2xx is success, anything else (or no answer) is worth retrying."""
    headers = {"Content-Type": "application/json", EVENT_HEADER: event, DELIVERY_HEADER: event_id,
               SIGNATURE_HEADER: sign(secret, body), "User-Agent": "GridSight-Webhooks/1"}
    try:
        r = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as e:
        return Outcome(False, None, f"{type(e).__name__}: {e}" or type(e).__name__)
    if 200 <= r.status_code < 300:
        return Outcome(True, r.status_code, "")
    return Outcome(False, r.status_code, f"HTTP {r.status_code}: {r.text[:200]}")
