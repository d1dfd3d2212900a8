"""Admin bodies: cameras, zones, grids, departments, users, keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from api.schemas.incidents import Location
from api.schemas.types import FiniteFloat, Id, JsonObject
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
    kind: str = Field(min_length=1, max_length=32, examples=["no_parking"])
    polygon: list[Point] = Field(min_length=3, max_length=200, description="[[x, y], ...] source pixels "
                                 "(or 0..1 with options.normalized)")
    options: JsonObject = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _options(cls, v: dict) -> dict:
        return _no_fields(v, ZONE_FIELDS, "zone")


class CameraIn(BaseModel):
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
    name: str = Field(min_length=1, max_length=200)
    polygon: list[Point] = Field(min_length=3, max_length=1000, description="[[lat, lon], ...]")


class DepartmentIn(BaseModel):
    name_en: str = Field(min_length=1, max_length=200)
    name_zh: str = Field("", max_length=200)


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    display_name: str = Field("", max_length=200)
    role: Role
    department_id: str | None = Field(None, description="required for handlers")
    grid_id: str | None = Field(None, description="required for grid officers")
    password: str | None = Field(None, min_length=8, max_length=200, description="for the OAuth2 password flow")


class UserPatch(BaseModel):
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
    user_id: Id
    name: str = Field("", max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
