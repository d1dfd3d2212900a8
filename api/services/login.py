"""Password logins that cannot be guessed fast, cannot tell who exists, and cannot starve the API.

* Rate limits (the ``limits`` library, moving windows): failed logins per username
  (``login_limits_user``, default ``5/minute;20/hour;100/day``: each tier a longer back-off) and
  attempts per client address (``login_limits_client``). Over a limit: 429 with ``Retry-After``,
  before any password is hashed, answered after up to 2 s (a sender that ignores ``Retry-After``
  is slowed down; the wait holds no thread). ``login_limits_storage`` (default ``memory://``: per process)
  takes ``redis://...`` so several API hosts share the counts.
* An unknown or inactive user costs one Argon2 verification of a dummy hash, like a real one.
* Argon2 runs on its own small pool (``login_threads``, at the lowest CPU priority: Argon2 takes
  about 64 MB and several cores for 0.1-1 s), never on the request threads; at most
  ``login_queue`` logins wait for it, more get 429 at once. A flood costs its senders time, not
  other callers.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.auth import hash_password, verify_password
from api.services.errors import ServiceError


TARPIT_S = 2.0  # a refused login answers after this long (at most)...
TARPIT_SLOTS = 256  # ...while this few are held; more are answered at once


class TooManyLogins(ServiceError):
    status_code = 429

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = max(1, math.ceil(retry_after_s))


def _lowest_priority() -> None:
    """Hashing threads (and the lanes Argon2 starts from them) yield the CPU to request threads."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux: the pool size alone bounds the work
        pass


class LoginGuard:
    def __init__(self, settings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.login_limits_storage))
        self._per_user = parse_many(settings.login_limits_user)
        self._per_client = parse_many(settings.login_limits_client)
        self._pool = ThreadPoolExecutor(max_workers=settings.login_threads, thread_name_prefix="gridsight-login",
                                        initializer=_lowest_priority)
        self._room = threading.BoundedSemaphore(settings.login_threads + settings.login_queue)
        self._tarpit = threading.BoundedSemaphore(TARPIT_SLOTS)
        self._dummy: str | None = None
        self.verifications = 0  # Argon2 verifications run (known and unknown users alike)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _over(self, limits, *keys: str) -> float | None:
        """Seconds until the first exhausted limit frees a slot, or None when none is."""
        for item in limits:
            if not self._limiter.test(item, *keys):
                reset, _ = self._limiter.get_window_stats(item, *keys)
                return reset - time.time()
        return None

    async def check(self, username: str, client: str) -> None:
        """429 when the client or the username is over its limits; counts the client's attempt."""
        wait = self._over(self._per_client, "client", client)
        if wait is None:
            wait = self._over(self._per_user, "user", username.lower())
        if wait is not None:
            if self._tarpit.acquire(blocking=False):  # an ignored Retry-After costs the sender, not us
                try:
                    await asyncio.sleep(min(wait, TARPIT_S))
                finally:
                    self._tarpit.release()
            raise TooManyLogins("too many login attempts; wait before trying again", wait)
        for item in self._per_client:
            self._limiter.hit(item, "client", client)

    def failed(self, username: str) -> None:
        for item in self._per_user:
            self._limiter.hit(item, "user", username.lower())

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Argon2 on the login pool; a missing hash is checked against a dummy one (same cost)."""
        if not self._room.acquire(blocking=False):
            raise TooManyLogins("too many logins at once; retry shortly", 1)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._verify, password_hash, password)
        finally:
            self._room.release()

    def _verify(self, password_hash: str | None, password: str) -> bool:
        self.verifications += 1
        if password_hash:
            return verify_password(password_hash, password)
        if self._dummy is None:
            self._dummy = hash_password("not a password anyone has")
        verify_password(self._dummy, password)
        return False
