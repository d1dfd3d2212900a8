"""Open311 GeoReport v2 answers as JSON (``.json``); ``.xml`` carries the same fields as elements."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Endpoint(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(BaseModel):
    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    service_code: str = Field(description="the issue type key", examples=["illegal_parking"])
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str = Field(description="the category code")


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[dict] = Field(description="always empty: no extra attributes", examples=[[]])


class ServiceRequest(BaseModel):
    service_request_id: str = Field(description="the ticket number", examples=["GS-2026-000123"])
    status: str = Field(description="open or closed")
    status_notes: str
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class RequestFiled(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


class Problem(BaseModel):
    """One item of the spec's error list."""

    code: int
    description: str


class ReporterOut(BaseModel):
    ticket: str
    at: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    description: str | None


class PublicLink(BaseModel):
    ticket: str
    revoked: bool
    media_url: str | None = Field(description="the new public image link (null once revoked)")


def documented(status: int = 200) -> dict:
    """``responses=`` of an Open311 route: the same answer as XML, and the spec's error list."""
    errors = {"model": list[Problem], "description": "`[{code, description}]` (XML: `<errors>`)"}
    return {status: {"content": {"text/xml": {"schema": {"type": "string"}}},
                     "description": "JSON (`.json`) or XML (`.xml`)"},
            400: errors, 401: errors, 403: errors, 404: errors}


# POST requests.{fmt} reads a form (as the spec says); documented here so the docs UI offers one.
_FIELDS = {
    "service_code": {"type": "string", "description": "an issue type key (see services.json)"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "long": {"type": "number", "minimum": -180, "maximum": 180},
    "address_string": {"type": "string"},
    "description": {"type": "string", "maxLength": 4000},
    "media_url": {"type": "string", "maxLength": 1000},
    "first_name": {"type": "string"}, "last_name": {"type": "string"}, "email": {"type": "string"},
    "phone": {"type": "string"},
    "api_key": {"type": "string", "description": "or the X-API-Key header"}}
_EXAMPLE = {"service_code": "illegal_parking", "lat": 31.235, "long": 121.465, "address_string": "1 North-west Road",
            "description": "A car parked on the pavement by the gate"}
REQUEST_FORM = {"requestBody": {"required": True, "content": {
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "required": ["service_code", "lat", "long"],
                                                     "properties": _FIELDS}, "example": _EXAMPLE},
    "multipart/form-data": {"schema": {"type": "object", "required": ["service_code", "lat", "long"], "properties": {
        **_FIELDS, "media": {"type": "string", "format": "binary", "description": "a photo (judged by the detector; "
                                                                                  "people blurred)"}}}}}}}
