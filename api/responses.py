"""JSON answers: orjson for hot paths, several times faster than the standard library on
ticket pages (measured with bench/api.py: encoding was the largest single cost of a list); and
the 422 answer for any rejected input (:func:`validation_error`)."""

from __future__ import annotations

import math

import orjson
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

OPTIONS = orjson.OPT_NON_STR_KEYS


class FastJSONResponse(JSONResponse):
    """A ``JSONResponse`` rendered by orjson (UTF-8, no ASCII escaping, like FastAPI's)."""

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=OPTIONS)


def json_safe(value):
    """``value`` with non-finite floats as strings (``"NaN"``, ``"Infinity"``): what a 422 may echo
    of a rejected input, which strict JSON cannot carry as numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).replace("inf", "Infinity").replace("nan", "NaN")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 answer, for any input: a rejected NaN, Infinity or 1e999 is echoed as text."""
    return JSONResponse({"detail": json_safe(jsonable_encoder(exc.errors()))}, status_code=422)
