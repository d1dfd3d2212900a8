"""Admin bodies: cameras, zones, grids, departments, users, keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from api.schemas import examples
from api.schemas.incidents import Location
from gridsight.fields import FiniteFloat, Id, JsonObject
from api.services.registry import CAMERA_FIELDS

Role = Literal["viewer", "operator", "dispatcher", "handler", "grid_officer", "admin", "ingest"]
Point = list[FiniteFloat]
ZONE_FIELDS = frozenset({"id", "kind", "polygon"})


def _no_fields(options: dict, fields, what: str) -> dict:
    """Options may not set what the path and the typed fields say (no renaming, no other object)."""
    named = sorted(fields & set(options))
    if named:
        raise ValueError(f"options may not set {', '.join(named)}: use the {what}'s own fields and path")
    return options


class ZoneIn(BaseModel):
    model_config = examples({"kind": "no_parking", "polygon": [[100, 400], [620, 400], [620, 470], [100, 470]]})

    kind: str = Field(min_length=1, max_length=32, examples=["no_parking"])
    polygon: list[Point] = Field(min_length=3, max_length=200, description="[[x, y], ...] source pixels "
                                 "(or 0..1 with options.normalized)")
    options: JsonObject = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict) -> dict:
        return _no_fields(v, ZONE_FIELDS, "zone")


class CameraIn(BaseModel):
    model_config = examples({"name": "North-west Road, school gate", "enabled": True,
                             "location": {"lat": 31.235, "lon": 121.465, "address": "1 North-west Road"}})

    name: str = Field("", max_length=200)
    url: str | None = Field(None, max_length=2000, description="stream URL; stored, never returned or logged")
    location: Location | None = None
    enabled: bool = True
    options: JsonObject = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict) -> dict:
        return _no_fields(v, CAMERA_FIELDS, "camera")


class GridIn(BaseModel):
    model_config = examples({"name": "Riverside grid", "polygon": [[31.22, 121.46], [31.23, 121.46],
                                                                  [31.23, 121.475], [31.22, 121.475]]})

    name: str = Field(min_length=1, max_length=200)
    polygon: list[Point] = Field(min_length=3, max_length=1000, description="[[lat, lon], ...]")


class DepartmentIn(BaseModel):
    model_config = examples({"name_en": "Parks and Greening Bureau", "name_zh": "绿化市容局"})

    name_en: str = Field(min_length=1, max_length=200)
    name_zh: str = Field("", max_length=200)


class UserIn(BaseModel):
    model_config = examples({"username": "li.na", "display_name": "Li Na", "role": "operator",
                             "password": "night-shift-2026"},
                            {"username": "tow.crew", "role": "handler", "department_id": "traffic-police"})

    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field("", max_length=200)
    role: Role
    department_id: str | None = Field(None, description="required for handlers")
    grid_id: str | None = Field(None, description="required for grid officers")
    password: str | None = Field(None, min_length=8, max_length=200, description="for the OAuth2 password flow")


class UserPatch(BaseModel):
    model_config = examples({"display_name": "Li Na (night shift)"}, {"active": False})

    display_name: str | None = Field(None, max_length=200)
    role: Role | None = None
    department_id: str | None = None
    grid_id: str | None = None
    password: str | None = Field(None, min_length=8, max_length=200)
    active: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data):
        """Leave a field out to keep it; only the scope fields may be cleared with null."""
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None and k in NOT_NULL)
            if nulls:
                raise ValueError(f"{', '.join(nulls)} cannot be null (leave a field out to keep it)")
        return data


NOT_NULL = frozenset({"display_name", "role", "password", "active"})


class KeyIn(BaseModel):
    model_config = examples({"user_id": 1, "name": "review workstation 3", "expires_in_days": 90})

    user_id: Id
    name: str = Field("", max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=3650)


# --- answers ------------------------------------------------------------------------------------

class ZoneOut(BaseModel):
    id: str
    camera_id: str
    kind: str = Field(examples=["no_parking"])
    polygon: list[Point]
    options: dict = Field(description="rule options of the zone (as in configs/cameras.yaml)",
                          examples=[{"normalized": True}])


class CameraOut(BaseModel):
    id: str = Field(examples=["cam-01"])
    name: str
    enabled: bool
    has_stream_url: bool = Field(description="the stream URL itself is never returned")
    location: Location | None
    grid_id: str | None
    options: dict = Field(description="detection options (as in configs/cameras.yaml)", examples=[{"detect_fps": 5}])


class CameraWithZones(CameraOut):
    zones: list[ZoneOut]


class GridOut(BaseModel):
    id: str = Field(examples=["grid-north-west"])
    name: str
    polygon: list[Point] = Field(description="[[lat, lon], ...]")
    bbox: list[float] = Field(description="min_lat, min_lon, max_lat, max_lon")


class DepartmentOut(BaseModel):
    id: str = Field(examples=["traffic-police"])
    name_en: str
    name_zh: str


class IssueTypeOut(BaseModel):
    key: str = Field(examples=["illegal_parking"])
    category_code: str
    name_en: str
    name_zh: str
    severity: str
    department_id: str | None = Field(description="where routing sends it")
    auto_dispatch: bool
    sla_s: dict[str, int] = Field(description="time to resolve in seconds, per severity",
                                  examples=[{"low": 259200, "medium": 86400, "high": 14400, "critical": 3600}])


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    department_id: str | None
    grid_id: str | None
    active: bool
    has_password: bool
    created_at: str


class KeyOut(BaseModel):
    id: int
    user_id: int
    name: str
    kind: str = Field(description="key (API key) or token (from the password flow)")
    prefix: str
    created_at: str
    expires_at: str | None
    revoked_at: str | None


class KeyCreated(KeyOut):
    secret: str = Field(description="shown once: send it as X-API-Key")


class Escalated(BaseModel):
    escalated: list[str] = Field(description="numbers of the tickets escalated now")
