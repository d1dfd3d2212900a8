"""Time as text, one way everywhere: ISO 8601 instants in UTC with ``Z``, and report periods.

>>> from datetime import datetime, timezone
>>> iso(datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc))
'2026-11-28T06:00:00Z'
>>> iso(1795845600.25)
'2026-11-28T06:00:00.250000Z'
>>> period_of(datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc), "week")
'2026-W48'
"""

from __future__ import annotations

from datetime import date, datetime, timezone


def iso(t: datetime | float | None) -> str | None:
    """An aware datetime or a unix time (seconds) as ISO 8601 in UTC, ``Z`` for the offset."""
    if t is None:
        return None
    dt = datetime.fromtimestamp(t, timezone.utc) if isinstance(t, (int, float)) else t.astimezone(timezone.utc)
    return dt.isoformat().replace("+00:00", "Z")


def period_of(d: date | datetime, period: str) -> str:
    """The report period a day falls in: ``day`` 2026-11-28, ``week`` 2026-W48 (ISO), ``month`` 2026-11."""
    d = d.date() if isinstance(d, datetime) else d
    if period == "day":
        return d.isoformat()
    if period == "month":
        return d.strftime("%Y-%m")
    year, week, _ = d.isocalendar()
    return f"{year}-W{week:02d}"
