"""The incident contract (docs/incident-contract.md), typed: the body of ``POST /api/v1/incidents``.

One model for every door: the live pipeline and archive jobs build an :class:`IncidentIn` and post
:func:`incident_body` of it; the upload endpoint builds one in process; the ticket API validates
every post against it. Times go out in the one format of :func:`gridsight.times.iso`.

>>> body = incident_body(IncidentIn(key="cam-01:fire:frame:1", seq=1, issue_type="fire",
...                                 first_seen=1795845600, last_seen=1795845601.5, camera_id="cam-01"))
>>> body["first_seen"], body["last_seen"], body["camera_id"], "zone_id" in body
('2026-11-28T06:00:00Z', '2026-11-28T06:00:01.500000Z', 'cam-01', True)
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from gridsight.fields import Count, FiniteFloat, Instant
from gridsight.times import iso

Severity = Literal["low", "medium", "high", "critical"]
OBJECT_KEY_PATTERN = r"^[a-z0-9][a-z0-9_/-]*/[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]{1,5}$"


class Location(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    address: str | None = Field(None, max_length=500)


class DetectionIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    class_name: str = Field(min_length=1, max_length=64)
    score: float = Field(ge=0, le=1)
    box: list[FiniteFloat] = Field(min_length=4, max_length=4, description="x1, y1, x2, y2 in source pixels")
    track_id: Count | None = None


class EvidenceRef(BaseModel):
    kind: Literal["annotated", "raw", "crop", "original"] = Field(
        description="annotated: boxes, zone and header; raw: the frame, people blurred; crop: the zoomed problem "
                    "region; original: an upload's unblurred picture (kept only with keep_upload_originals)")
    object_key: str = Field(pattern=OBJECT_KEY_PATTERN, description="a key the object store made (content hash)")
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    content_type: Literal["image/jpeg", "image/png", "image/webp"] = "image/jpeg"


class IncidentIn(BaseModel):
    """One incident message. Idempotent by ``key``; ``seq`` orders the updates of one key."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "key": "cam-01:illegal_parking:noparking-a:1764309600", "seq": 1, "event": "open",
        "issue_type": "illegal_parking", "source": "camera", "camera_id": "cam-01", "zone_id": "noparking-a",
        "first_seen": "2026-11-28T06:00:00Z", "last_seen": "2026-11-28T06:01:10Z", "score": 0.87,
        "detections": [{"class_name": "car", "score": 0.87, "box": [100, 200, 380, 420], "track_id": 7}],
        "evidence": [], "location": {"lat": 31.235, "lon": 121.47, "address": "Example Rd 1"}}]})

    key: str = Field(min_length=1, max_length=255)
    seq: int = Field(ge=0, le=2**31 - 1)
    event: Literal["open", "update", "close"] = "open"
    issue_type: str = Field(min_length=1, max_length=64)
    category_code: str | None = Field(None, max_length=16)
    name_en: str | None = Field(None, max_length=200)
    name_zh: str | None = Field(None, max_length=200)
    severity: Severity | None = None
    source: Literal["camera", "upload", "batch"] = "camera"
    camera_id: str | None = Field(None, max_length=64)
    zone_id: str | None = Field(None, max_length=64)
    job_id: str | None = Field(None, max_length=64)
    first_seen: Instant | None = None
    last_seen: Instant | None = None
    score: float = Field(0.0, ge=0, le=1)
    detections: list[DetectionIn] = Field(default_factory=list, max_length=500)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=10)
    location: Location | None = None

    @model_validator(mode="after")
    def _times_in_order(self) -> "IncidentIn":
        if self.first_seen and self.last_seen and self.last_seen < self.first_seen:
            raise ValueError("last_seen is before first_seen")
        return self

    @field_serializer("first_seen", "last_seen")
    def _time(self, t: datetime | None) -> str | None:
        return iso(t)


def incident_body(incident: IncidentIn) -> dict:
    """The JSON body of a post: unset optional fields left out, ``camera_id`` and ``zone_id`` always
    there (null: the whole view, no camera)."""
    body = incident.model_dump(mode="json", exclude_none=True)
    return {**body, "camera_id": incident.camera_id, "zone_id": incident.zone_id}
