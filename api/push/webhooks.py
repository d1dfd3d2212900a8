"""Webhook deliveries: HMAC-SHA256 signed JSON bodies POSTed to subscribers, never to inside addresses.

Every request carries::

    Content-Type: application/json
    X-GridSight-Event: <event name, e.g. created>
    X-GridSight-Delivery: <event id (uuid); the same on every retry: de-duplicate with it>
    X-GridSight-Signature: t=<unix time>,sha256=<hex HMAC-SHA256 of "<t>." + raw body, subscription secret>

A receiver checks the signature over the raw bytes it got (before parsing) and refuses a
timestamp older than its tolerance (default :data:`TOLERANCE_S`, 5 minutes), so a captured
delivery cannot be replayed later: ``verify_signature(secret, body, request.headers[...])``.
Each retry is signed anew.

Targets: a URL whose host resolves to a loopback, link-local (169.254.169.254), private,
multicast, reserved or unspecified address is refused when subscribed and again at each delivery
(DNS may change in between), unless ``GRIDSIGHT_WEBHOOK_ALLOW`` names that host or a network
holding the address (e.g. ``127.0.0.1`` or ``10.0.0.0/8``). A failed delivery records the HTTP
status and its standard reason, never the receiver's answer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

SIGNATURE_HEADER = "X-GridSight-Signature"
EVENT_HEADER = "X-GridSight-Event"
DELIVERY_HEADER = "X-GridSight-Delivery"
TOLERANCE_S = 300


class TargetRefused(ValueError):
    """The webhook URL points inside (loopback, private, link-local...) and no allowlist names it."""


def sign(secret: str, body: bytes, at: int | None = None) -> str:
    """The signature header's value for ``body`` at unix time ``at`` (now): ``t=<at>,sha256=<hex>``."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},sha256={mac}"


def verify_signature(secret: str, body: bytes, header: str | None, tolerance_s: float = TOLERANCE_S,
                     now: float | None = None) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` within ``tolerance_s`` of now (constant-time)."""
    try:
        parts = dict(p.split("=", 1) for p in (header or "").strip().split(","))
        at = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - at) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, at), f"t={parts['t']},sha256={parts.get('sha256', '')}")


def _allowed(host: str, address: ipaddress._BaseAddress, allow: tuple[str, ...]) -> bool:
    for entry in allow:
        if entry.lower() == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_target(url: str, allow: tuple[str, ...] = ()) -> None:
    """:class:`TargetRefused` unless every address ``url``'s host resolves to is public or allowed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise TargetRefused(f"webhook URL must be http(s)://host/..., not {url!r}")
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80),
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError) as e:
        raise TargetRefused(f"webhook host {host!r} does not resolve ({e})") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        inside = (address.is_loopback or address.is_link_local or address.is_private or address.is_multicast
                  or address.is_reserved or address.is_unspecified or not address.is_global)
        if inside and not _allowed(host, address, allow):
            raise TargetRefused(f"webhook host {host!r} resolves to {address}, an internal address; "
                                "GRIDSIGHT_WEBHOOK_ALLOW must name it to deliver there")


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


def post(client: httpx.Client, url: str, secret: str, body: bytes, event: str, event_id: str,
         allow: tuple[str, ...] = ()) -> Outcome:
    """One delivery attempt; 2xx is success, anything else (or no answer) is worth retrying."""
    try:
        check_target(url, allow)
    except TargetRefused as e:
        return Outcome(False, None, f"gone: {e}")
    headers = {"Content-Type": "application/json", EVENT_HEADER: event, DELIVERY_HEADER: event_id,
               SIGNATURE_HEADER: sign(secret, body), "User-Agent": "GridSight-Webhooks/1"}
    try:
        r = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as e:
        return Outcome(False, None, f"no answer ({type(e).__name__})")
    if 200 <= r.status_code < 300:
        return Outcome(True, r.status_code, "")
    try:
        reason = HTTPStatus(r.status_code).phrase
    except ValueError:
        reason = "non-standard status"
    return Outcome(False, r.status_code, f"HTTP {r.status_code} {reason}")
