"""Open311 answers in the client's format: ``.json`` or ``.xml`` (GeoReport v2 makes XML required).

XML follows the spec's shapes: ``<services><service>…``, ``<service_requests><request>…``,
``<service_definition>…``, ``<errors><error><code/><description/></error></errors>``; UTF-8
with the XML declaration. ``None`` becomes an empty element, booleans ``true``/``false``.

:class:`Open311Route` makes every error of the Open311 router an Open311 error list, in the
format the path's suffix asks for (JSON otherwise): the resources' own errors, FastAPI's
validation errors, service errors, HTTP errors (404, 405, 413) and an unavailable object store.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from api.services.errors import ServiceError
from api.storage.objects import ObjectNotFound, ObjectStoreError

FORMATS = ("json", "xml")
# list element -> the tag of each item
ITEM_TAGS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
             "values": "value", "endpoints": "endpoint", "formats": "format"}


class FormatError(ValueError):
    pass


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise FormatError(f"format .{fmt} is not offered; use .json or .xml")
    return fmt


def _element(tag: str, value) -> ET.Element:
    el = ET.Element(tag)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        item = ITEM_TAGS.get(tag, "item")
        for v in value:
            el.append(_element(item, v))
    elif isinstance(value, bool):
        el.text = "true" if value else "false"
    elif value is not None:
        el.text = str(value)
    return el


def to_xml(root: str, value) -> bytes:
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(_element(root, value), encoding="utf-8")


def respond(value, fmt: str, root: str, status_code: int = 200) -> Response:
    """``value`` as JSON, or as XML under ``root`` (lists become repeated item elements)."""
    if fmt == "xml":
        return Response(to_xml(root, value), status_code=status_code, media_type="text/xml; charset=utf-8")
    return JSONResponse(value, status_code=status_code)


def error_response(code: int, description: str, fmt: str = "json") -> Response:
    return respond([{"code": code, "description": description}], fmt if fmt in FORMATS else "json", "errors", code)


def requested_format(path: str) -> str:
    """``xml`` when the path ends in ``.xml``, else ``json``."""
    return "xml" if path.endswith(".xml") else "json"


def as_open311_error(exc: Exception, path: str) -> Response | None:
    """The Open311 error answer for ``exc``; None for exceptions that are no client's fault."""
    fmt = requested_format(path)
    if isinstance(exc, Open311Error):
        return error_response(exc.code, exc.description, fmt)
    if isinstance(exc, FormatError):
        return error_response(404, str(exc))
    if isinstance(exc, RequestValidationError):
        return error_response(400, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                              fmt)
    if isinstance(exc, ServiceError):  # Invalid (422) is a bad field: the spec's 400
        return error_response(400 if exc.status_code == 422 else exc.status_code, exc.detail, fmt)
    if isinstance(exc, ObjectNotFound):
        return error_response(404, f"the image is not in the object store: {exc}", fmt)
    if isinstance(exc, ObjectStoreError):
        return error_response(503, f"object store unavailable: {exc}", fmt)
    if isinstance(exc, HTTPException):
        return error_response(exc.status_code, str(exc.detail), fmt)
    return None


class Open311Route(APIRoute):
    """A route whose every client error is answered in the Open311 format."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                answer = as_open311_error(exc, request.url.path)
                if answer is None:
                    raise
                return answer

        return route
