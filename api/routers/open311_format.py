"""Open311 answers in the client's format: ``.json`` or ``.xml`` (GeoReport v2 makes XML required).

XML follows the spec's shapes: ``<services><service>…``, ``<service_requests><request>…``,
``<service_definition>…``, ``<errors><error><code/><description/></error></errors>``; UTF-8
with the XML declaration. ``None`` becomes an empty element, booleans ``true``/``false``.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from fastapi.responses import JSONResponse, Response

FORMATS = ("json", "xml")
# list element -> the tag of each item
ITEM_TAGS = {"services": "service", "service_requests": "request", "errors": "error", "attributes": "attribute",
             "values": "value", "endpoints": "endpoint", "formats": "format"}


class FormatError(ValueError):
    pass


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
