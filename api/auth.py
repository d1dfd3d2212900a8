"""Authentication (API keys, OAuth2 bearer tokens) and authorisation (roles and scopes).

Credentials: an API key (``X-API-Key: gsk_...`` or ``Authorization: Bearer gsk_...``) or a
bearer token from ``POST /api/v1/auth/token`` (OAuth2 password flow, what the docs UI's
*Authorize* button uses). Both are 256-bit random secrets; only their SHA-256 is stored.
Passwords are hashed with Argon2.

Roles and what they may do are one table, :data:`PERMISSIONS`. Two roles are scoped: a
``handler`` acts on its own department's tickets only, a ``grid_officer`` on its own grid's.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.db.models import ROLES, ApiKey, User
from api.services.clock import Clock

READERS = frozenset({"viewer", "operator", "dispatcher", "handler", "grid_officer", "admin"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "tickets.read": READERS,
    "stats.read": READERS,
    "registry.read": READERS,  # cameras (never their URLs), zones, grids, departments
    "incidents.write": frozenset({"ingest", "admin"}),
    "detect": frozenset({"ingest", "operator", "dispatcher", "admin"}),
    "ticket.dispatch": frozenset({"dispatcher", "admin"}),
    "ticket.start": frozenset({"handler", "dispatcher", "admin"}),
    "ticket.resolve": frozenset({"handler", "dispatcher", "admin"}),
    "ticket.verify": frozenset({"grid_officer", "dispatcher", "admin"}),
    "ticket.close": frozenset({"dispatcher", "admin"}),
    "ticket.reopen": frozenset({"grid_officer", "dispatcher", "admin"}),
    "ticket.reject": frozenset({"operator", "dispatcher", "admin"}),
    "ticket.duplicate": frozenset({"operator", "dispatcher", "admin"}),
    "ticket.feedback": frozenset({"operator", "dispatcher", "handler", "grid_officer", "admin"}),
    "ticket.rate": frozenset({"operator", "dispatcher", "grid_officer", "admin"}),
    "escalate": frozenset({"dispatcher", "admin"}),
    "reporter.read": frozenset({"operator", "dispatcher", "admin"}),  # Open311 reporters' contact fields
    "evidence.original": frozenset({"dispatcher", "admin"}),  # an upload's unblurred original, when kept
    "jobs.read": frozenset({"viewer", "dispatcher", "ingest", "operator", "admin"}),  # archive jobs
    "jobs.write": frozenset({"ingest", "operator", "admin"}),
    "admin": frozenset({"admin"}),
}
KEY_PREFIX = "gsk_"
TOKEN_PREFIX = "gst_"
TOKEN_TTL = timedelta(hours=8)
CACHE_TTL_S = 5.0  # a revoked key stops working in this process at once, in others within this

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user behind a key or token, with the role's scope."""

    user_id: int
    username: str
    role: str
    department_id: str | None = None
    grid_id: str | None = None
    key_id: int | None = None  # the API key or token used (signs the caller's evidence links)

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret(prefix: str = KEY_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_role_scope(role: str, department_id: str | None, grid_id: str | None) -> None:
    """A handler needs a department, a grid officer a grid (ValueError otherwise)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "handler" and not department_id:
        raise ValueError("a handler needs a department_id")
    if role == "grid_officer" and not grid_id:
        raise ValueError("a grid_officer needs a grid_id")


def issue_credential(session: Session, user: User, now, *, kind: str = "key", name: str = "",
                     secret: str | None = None, ttl: timedelta | None = None) -> tuple[ApiKey, str]:
    """Create a key or token for ``user``; returns the row and the secret (shown once)."""
    secret = secret or new_secret(KEY_PREFIX if kind == "key" else TOKEN_PREFIX)
    row = ApiKey(user_id=user.id, name=name, kind=kind, prefix=secret[:10], secret_hash=hash_secret(secret),
                 created_at=now, expires_at=(now + ttl) if ttl else None)
    session.add(row)
    session.flush()
    return row, secret


class Authenticator:
    """Finds the principal behind a secret: one indexed query, cached for a few seconds."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, ttl_s: float = CACHE_TTL_S) -> None:
        self.sessions = sessions
        self.clock = clock
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def cached(self, secret: str) -> Principal | None:
        """The principal if this process checked the secret in the last few seconds (no I/O)."""
        hit = self._cache.get(hash_secret(secret))
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def authenticate(self, secret: str) -> Principal | None:
        digest = hash_secret(secret)
        hit = self._cache.get(digest)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return self._look_up(ApiKey.secret_hash == digest, digest)

    def by_key_id(self, key_id: int) -> Principal | None:
        """The principal behind a live key or token, by its id (what signed links name)."""
        hit = self._cache.get(f"id:{key_id}")
        if hit and hit[0] > time.monotonic():
            return hit[1]
        return self._look_up(ApiKey.id == key_id, f"id:{key_id}")

    def _look_up(self, where, cache_key: str) -> Principal | None:
        with self.sessions() as s:
            row = s.execute(
                select(ApiKey.id.label("key_id"), ApiKey.expires_at, ApiKey.revoked_at, User.id, User.username,
                       User.role, User.department_id, User.grid_id, User.active)
                .join(User, User.id == ApiKey.user_id).where(where)).first()
        if row is None or row.revoked_at is not None or not row.active:
            return None
        if row.expires_at is not None and row.expires_at <= self.clock.now():
            return None
        principal = Principal(row.id, row.username, row.role, row.department_id, row.grid_id, row.key_id)
        ttl = self.ttl_s
        if row.expires_at is not None:  # never cache past the expiry
            ttl = min(ttl, (row.expires_at - self.clock.now()).total_seconds())
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[cache_key] = (time.monotonic() + ttl, principal)
        return principal

    def forget_all(self) -> None:
        """After a revocation or a user change."""
        with self._lock:
            self._cache.clear()


api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="APIKey",
                              description="An API key (`gridsight api create-key`), e.g. the pipeline's ingest key.")
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False, scheme_name="OAuth2",
                                     description="Username and password -> bearer token (8 hours). "
                                                 "`Authorization: Bearer <API key>` works too.")


async def current_principal(request: Request, api_key: str | None = Security(api_key_scheme),
                            bearer: str | None = Security(bearer_scheme)) -> Principal:
    secret = api_key or bearer
    if not secret:
        raise HTTPException(401, "not authenticated: send X-API-Key or Authorization: Bearer",
                            headers={"WWW-Authenticate": "Bearer"})
    auth: Authenticator = request.app.state.auth
    # the event loop never waits on the database: a cache miss is looked up in the thread pool
    principal = auth.cached(secret) or await run_in_threadpool(auth.authenticate, secret)
    if principal is None:
        raise HTTPException(401, "invalid, expired or revoked credentials", headers={"WWW-Authenticate": "Bearer"})
    return principal


def check_permission(principal: Principal, permission: str) -> Principal:
    """The principal, if its role has ``permission`` (403 otherwise)."""
    roles = PERMISSIONS[permission]
    if principal.role not in roles:
        raise HTTPException(403, f"role {principal.role} may not do this ({permission}); "
                                 f"allowed roles: {', '.join(sorted(roles))}")
    return principal


def check_duties(principal: Principal, settings) -> None:
    """Separation of duties: a handler does not verify its own department's work (a photo check
    verifies or reopens), unless ``GRIDSIGHT_HANDLER_MAY_VERIFY`` allows it (403 otherwise)."""
    if principal.role == "handler" and not settings.handler_may_verify:
        raise HTTPException(403, "a handler may not verify its own department's resolution; a grid officer or "
                                 "dispatcher does (GRIDSIGHT_HANDLER_MAY_VERIFY=true allows it)")


_requirements: dict[str, object] = {}


def require(permission: str):
    """Dependency: the caller, if its role has ``permission`` (403 otherwise)."""
    if permission not in PERMISSIONS:
        raise KeyError(permission)
    if permission not in _requirements:
        async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
            return check_permission(principal, permission)

        dependency.__name__ = f"require_{permission.replace('.', '_')}"
        _requirements[permission] = dependency
    return Depends(_requirements[permission])
