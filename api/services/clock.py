"""The service's clock, injectable so SLA and escalation can be tested at any time of day.

>>> from datetime import datetime, timedelta, timezone
>>> clock = ManualClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
>>> clock.advance(timedelta(hours=2)).isoformat()
'2026-01-01T02:00:00+00:00'
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone


class Clock:
    """Wall-clock time, UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ManualClock(Clock):
    """A clock that moves only when told to (tests, replays)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when
