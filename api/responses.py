"""JSON encoding for hot paths: orjson, several times faster than the standard library on
ticket pages (measured with bench/api.py: encoding was the largest single cost of a list)."""

from __future__ import annotations

import orjson
from fastapi.responses import JSONResponse

OPTIONS = orjson.OPT_NON_STR_KEYS


class FastJSONResponse(JSONResponse):
    """A ``JSONResponse`` rendered by orjson (UTF-8, no ASCII escaping, like FastAPI's)."""

    def render(self, content) -> bytes:
        return orjson.dumps(content, option=OPTIONS)
