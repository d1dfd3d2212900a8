"""Value types every request field is built from (the API's schemas and the incident contract),
so bad numbers and times stop at the edge (422).

* :data:`FiniteFloat`: no NaN, no infinities (JSON's ``NaN``, ``Infinity`` and ``1e999`` parse to them).
* :data:`Id`: a database id, 1 .. 2^63-1 (a bigger one cannot exist; PostgreSQL would refuse it).
* :data:`Instant`: an ISO 8601 time with an offset, between years 1900 and 9000 once in UTC
  (``0001-01-01T00:00:00+14:00`` has no UTC value at all), answered in UTC.
* :data:`JsonObject`: a free-form object (options) of at most 64 keys, depth 4, finite numbers.

>>> from pydantic import TypeAdapter
>>> TypeAdapter(Instant).validate_python("2026-07-29T08:00:00+08:00").isoformat()
'2026-07-29T00:00:00+00:00'
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Annotated

from annotated_types import Interval
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

MAX_ID = 2**63 - 1
MIN_YEAR, MAX_YEAR = 1900, 9000

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Id = Annotated[int, Interval(ge=1, le=MAX_ID)]
Count = Annotated[int, Interval(ge=0, le=MAX_ID)]


def _time_in_range(value):
    """Before parsing: a time whose offset pushes it past year 1 or 9999 cannot be held at all."""
    if isinstance(value, str) and len(value) > 64:
        raise ValueError("a time is at most 64 characters of ISO 8601")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"time out of range (years {MIN_YEAR}..{MAX_YEAR})") from None
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"time out of range (years {MIN_YEAR}..{MAX_YEAR})")
    return utc


Instant = Annotated[AwareDatetime, BeforeValidator(_time_in_range), AfterValidator(_to_utc)]


def _check_json(value, depth: int = 0):
    if depth > 4:
        raise ValueError("nested deeper than 4 levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (no NaN or Infinity)")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_ID:
        raise ValueError(f"integers must be within +-{MAX_ID}")
    if isinstance(value, dict):
        if len(value) > 64:
            raise ValueError("at most 64 keys")
        for v in value.values():
            _check_json(v, depth + 1)
    elif isinstance(value, list):
        if len(value) > 1000:
            raise ValueError("at most 1000 items")
        for v in value:
            _check_json(v, depth + 1)
    return value


JsonObject = Annotated[dict, AfterValidator(_check_json)]
