"""Ticket bodies: what the API returns, what transitions take, and the list filters.

:func:`ticket_filters` is a FastAPI dependency parsing the shared list filters (status, type,
severity, grid, department, camera, time range, bbox, overdue) into
:class:`~api.services.tickets.TicketFilters`; the GeoJSON and Open311 routers reuse it.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Query
from pydantic import BaseModel, Field

from api.schemas import examples
from api.schemas.incidents import Location
from gridsight.fields import Id, Instant
from api.services.errors import Invalid
from api.services.tickets import TicketFilters

Status = Literal["new", "dispatched", "in_progress", "resolved", "verified", "closed", "reopened",
                 "rejected", "duplicate"]
Severity = Literal["low", "medium", "high", "critical"]


class EvidenceOut(BaseModel):
    kind: str
    object_key: str
    sha256: str | None = None
    content_type: str = "image/jpeg"
    url: str = Field(description="GET it for the image (image/jpeg)")


class DetectionOut(BaseModel):
    class_name: str
    score: float
    box: list[float | None] = Field(description="x1, y1, x2, y2 (null: a value stored before it was checked)")
    track_id: int | None = None


class TicketHead(BaseModel):
    """What every view of a ticket shows first: which ticket, what kind of problem, where it was seen."""

    id: int
    number: str = Field(examples=["GS-2026-000123"])
    issue_type: str
    category_code: str
    name_en: str
    name_zh: str
    severity: str
    status: str
    source: str
    camera_id: str | None
    zone_id: str | None


class TicketOut(TicketHead):
    dedup_key: str
    seq: int
    job_id: str | None
    location: Location | None
    grid_id: str | None
    department_id: str | None
    assignee_id: int | None
    detected_at: str
    last_seen_at: str
    created_at: str
    updated_at: str
    dispatched_at: str | None
    due_at: str | None
    resolved_at: str | None
    verified_at: str | None
    closed_at: str | None
    escalated_at: str | None
    overdue: bool
    reopen_count: int
    duplicate_of_id: int | None
    reason: str | None
    incident_state: str
    score: float
    detections: list[DetectionOut]
    evidence: list[EvidenceOut]


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int | None = Field(description="tickets matching, counted up to 200 past `offset`")
    total_exact: bool = Field(description="false: more than `total` match")
    limit: int
    offset: int


class EventOut(BaseModel):
    id: int
    at: str
    actor: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict | None = Field(description="what the change set, by field",
                              examples=[{"department_id": "traffic-police", "due_at": "2026-11-29T06:01:10+00:00"}])


class FeedbackOut(BaseModel):
    id: int
    at: str
    author: str
    role: str
    note: str | None
    rating: int | None
    photos: list[str]


# The note each transition's example body carries into the history (never a placeholder).
TRANSITION_NOTES = {"start": "Crew on the way", "resolve": "Cleared on site", "verify": "Checked on the camera: gone",
                    "close": "Fixed and checked", "reopen": "Still there on the next round"}


class NoteIn(BaseModel):
    model_config = examples({"note": "Checked on site"}, {})

    note: str | None = Field(None, max_length=4000, description="kept in the ticket's history; optional")


class DispatchIn(NoteIn):
    # a department of configs/dispatch.yaml (the docs swap in the registry's default when it lacks it)
    model_config = examples({"department_id": "traffic-police", "note": "Please tow: it blocks the kerb"}, {})

    department_id: str | None = Field(None, max_length=64, description="default: the routed department")
    assignee_id: Id | None = Field(None, description="a handler of that department")


class RejectIn(NoteIn):
    model_config = examples({"reason": "A delivery van loading: allowed here"})

    reason: str = Field(min_length=1, max_length=4000, description="why this is a false positive")


class DuplicateIn(NoteIn):
    model_config = examples({"duplicate_of": "1", "note": "Same car, seen by the next camera"})

    duplicate_of: str = Field(min_length=1, max_length=32, description="id (1) or number (GS-2026-000001) of the "
                                                                        "original ticket")


class EvidenceUrl(BaseModel):
    url: str
    expires_at: str
    content_type: str


def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    if not bbox:
        return None
    try:
        parts = [float(v) for v in bbox.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4:
        raise Invalid(("query", "bbox"), "bbox is min_lon,min_lat,max_lon,max_lat (four numbers)")
    min_lon, min_lat, max_lon, max_lat = parts
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise Invalid(("query", "bbox"), "bbox must be min_lon,min_lat,max_lon,max_lat with min <= max")
    return min_lon, min_lat, max_lon, max_lat


async def ticket_filters(
    status: list[Status] | None = Query(None, description="repeat for several"),
    issue_type: list[str] | None = Query(None, alias="type", description="issue type key; repeat for several"),
    severity: list[Severity] | None = Query(None),
    grid: str | None = Query(None, max_length=64),
    department: str | None = Query(None, max_length=64),
    camera: str | None = Query(None, max_length=64),
    created_from: Instant | None = Query(None, alias="from", description="created at or after (ISO 8601)"),
    created_to: Instant | None = Query(None, alias="to", description="created before (ISO 8601)"),
    bbox: str | None = Query(None, description="min_lon,min_lat,max_lon,max_lat", examples=["121.46,31.22,121.49,31.24"]),
    overdue: bool | None = Query(None),
) -> TicketFilters:
    if created_from and created_to and created_to <= created_from:
        raise Invalid(("query", "to"), "`to` must be after `from`")
    return TicketFilters(status=status, issue_type=issue_type, severity=severity, grid_id=grid,
                         department_id=department, camera_id=camera, created_from=created_from,
                         created_to=created_to, bbox=parse_bbox(bbox), overdue=overdue)
