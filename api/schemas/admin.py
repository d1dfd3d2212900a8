"""Admin bodies: cameras, zones, grids, departments, users, keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.incidents import Location

Role = Literal["viewer", "operator", "dispatcher", "handler", "grid_officer", "admin", "ingest"]
Point = list[float]


class ZoneIn(BaseModel):
    kind: str = Field(min_length=1, max_length=32, examples=["no_parking"])
    polygon: list[Point] = Field(min_length=3, max_length=200, description="[[x, y], ...] source pixels "
                                 "(or 0..1 with options.normalized)")
    options: dict = Field(default_factory=dict)


class CameraIn(BaseModel):
    name: str = Field("", max_length=200)
    url: str | None = Field(None, max_length=2000, description="stream URL; stored, never returned or logged")
    location: Location | None = None
    enabled: bool = True
    options: dict = Field(default_factory=dict)


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


class KeyIn(BaseModel):
    user_id: int
    name: str = Field("", max_length=200)
    expires_in_days: int | None = Field(None, ge=1, le=3650)
