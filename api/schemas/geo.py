"""The map of tickets as RFC 7946 GeoJSON (``GET /api/v1/tickets.geojson``, ``application/geo+json``)."""

from __future__ import annotations

from typing import Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field


class GeoJSONResponse(JSONResponse):
    media_type = "application/geo+json"


class Point(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(description="[lon, lat] (RFC 7946 order)")


class TicketProperties(BaseModel):
    number: str
    ticket_id: int
    issue_type: str
    category_code: str
    name_en: str
    name_zh: str
    severity: str
    status: str
    grid_id: str | None
    department_id: str | None
    camera_id: str | None
    overdue: bool
    address: str | None
    created_at: str
    updated_at: str
    url: str = Field(description="the ticket in the API")
    evidence_url: str | None = Field(description="its evidence image (annotated when there is one)")


class TicketFeature(BaseModel):
    type: Literal["Feature"]
    id: str = Field(description="the ticket number")
    geometry: Point
    properties: TicketProperties


EXAMPLE = {
    "type": "FeatureCollection", "truncated": False, "features": [{
        "type": "Feature", "id": "GS-2026-000123",
        "geometry": {"type": "Point", "coordinates": [121.465, 31.235]},
        "properties": {"number": "GS-2026-000123", "ticket_id": 123, "issue_type": "illegal_parking",
                       "category_code": "0505", "name_en": "Illegal parking", "name_zh": "机动车乱停放",
                       "severity": "medium", "status": "dispatched", "grid_id": "grid-north-west",
                       "department_id": "traffic-police", "camera_id": "cam-01", "overdue": False,
                       "address": "1 North-west Road", "created_at": "2026-11-28T06:01:10Z",
                       "updated_at": "2026-11-28T06:05:00Z", "url": "/api/v1/tickets/123",
                       "evidence_url": "/api/v1/tickets/123/evidence?kind=annotated"}}]}


class TicketMap(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    type: Literal["FeatureCollection"]
    features: list[TicketFeature]
    truncated: bool = Field(description="true when `limit` cut the map (newest first)")
