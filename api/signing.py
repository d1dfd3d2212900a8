"""The server's secret key, and the evidence links it signs for one caller.

:func:`secret_key`: ``GRIDSIGHT_SECRET_KEY`` when set (at least 32 characters, never the value
older docs showed); otherwise a random key made at first start and kept in
``GRIDSIGHT_HOME/secret_key`` (mode 0600), so a fresh install never signs with a known key.
Several API hosts must share one key: set it.

:class:`EvidenceLinks` signs ``/api/v1/tickets/<id>/evidence?kind=...`` for the caller who read
the ticket, so the link opens in a browser tab (no header needed) for a short while::

    /api/v1/tickets/12/evidence?kind=annotated&by=7&expires=1764312000&signature=<hex>

``by`` is the id of the caller's API key or bearer token; the signature (HMAC-SHA256 of the
secret key) covers the ticket, the kind or object key, ``by`` and the expiry. Serving the link
checks the signature and the expiry, then asks again whether that credential may read that
ticket now: a revoked key, a deactivated user or a changed scope kills its links at once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from fastapi import HTTPException, Query, Request, Security
from fastapi.concurrency import run_in_threadpool

from api.auth import Principal, api_key_scheme, bearer_scheme, check_permission, current_principal

FORBIDDEN_KEYS = frozenset({"dev-only-change-me"})  # the default older versions documented
MIN_KEY_LENGTH = 32
KEY_FILE = "secret_key"
LINK_TTL = timedelta(hours=1)  # evidence links in ticket JSON
MAX_LINK_TTL = timedelta(hours=12)


def secret_key(settings) -> str:
    """The key that signs links (see the module doc); ValueError for a weak configured key."""
    configured = settings.secret_key
    if configured:
        if configured in FORBIDDEN_KEYS or len(configured) < MIN_KEY_LENGTH:
            raise ValueError(f"GRIDSIGHT_SECRET_KEY must be a random value of at least {MIN_KEY_LENGTH} characters "
                             "(not the documented example); unset it to have one made in GRIDSIGHT_HOME")
        return configured
    return _key_file(Path(settings.home) / KEY_FILE)


def _key_file(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two processes starting at once agree on the first one's key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(f"{path} holds no usable key; delete it to have a new one made") from None
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


class EvidenceLinks:
    """Signs and checks a caller's evidence links (see the module doc)."""

    def __init__(self, key: str, clock) -> None:
        self._key = key.encode()
        self.clock = clock

    def _signature(self, ticket_id: int, what: str, by: int, expires: int) -> str:
        msg = f"evidence\n{ticket_id}\n{what}\n{by}\n{expires}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()

    def sign(self, principal: Principal, ticket_id: int, *, kind: str | None = None, key: str | None = None,
             ttl: timedelta = LINK_TTL, expires_at: datetime | None = None) -> str:
        expires = int((expires_at or self.clock.now() + min(ttl, MAX_LINK_TTL)).timestamp())
        params = {"kind": kind} if kind else {"key": key}
        params.update(by=principal.key_id, expires=expires,
                      signature=self._signature(ticket_id, kind or key or "", principal.key_id, expires))
        return f"/api/v1/tickets/{ticket_id}/evidence?{urlencode(params)}"

    def for_principal(self, principal: Principal):
        """``link(ticket_id, kind)`` for :func:`api.services.tickets.ticket_to_dict`: every link of
        one answer expires at the same time."""
        if principal.key_id is None:
            return None
        expires_at = self.clock.now() + LINK_TTL
        return lambda ticket_id, kind: self.sign(principal, ticket_id, kind=kind, expires_at=expires_at)

    def check(self, ref: str, what: str, by: int, expires: int, signature: str) -> bool:
        if not ref.isascii() or not ref.isdigit() or expires < self.clock.now().timestamp():
            return False
        if expires > (self.clock.now() + MAX_LINK_TTL).timestamp() + 60:
            return False
        return hmac.compare_digest(self._signature(int(ref), what, by, expires), signature)


async def evidence_reader(request: Request, ref: str,
                          kind: str | None = Query(None, include_in_schema=False),
                          key: str | None = Query(None, include_in_schema=False),
                          by: int | None = Query(None, ge=1, le=2**62, description="signed link: the signer's key id"),
                          expires: int | None = Query(None, ge=0, le=2**40, description="signed link: expiry (unix)"),
                          signature: str | None = Query(None, min_length=64, max_length=64,
                                                        description="signed link: HMAC"),
                          api_key: str | None = Security(api_key_scheme),
                          bearer: str | None = Security(bearer_scheme)) -> Principal:
    """The caller of an evidence read: credentials as anywhere, or a signed link's signer as long as
    that credential is live (its role and scope are then checked on the ticket like any caller's)."""
    if api_key or bearer or signature is None:
        principal = await current_principal(request, api_key, bearer)
    else:
        links: EvidenceLinks = request.app.state.gs.links
        if by is None or expires is None or not links.check(ref, kind or key or "", by, expires, signature):
            raise HTTPException(403, "the link's signature is wrong or it has expired; read the ticket again "
                                     "for a new one")
        principal = await run_in_threadpool(request.app.state.auth.by_key_id, by)
        if principal is None:
            raise HTTPException(403, "the key that signed this link is revoked or expired")
    return check_permission(principal, "tickets.read")
