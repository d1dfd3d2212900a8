"""Archive-job bodies: footage to reprocess and how."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, Field, model_validator


class Footage(BaseModel):
    path: str | None = Field(None, description="a file on the server, under the allowed roots")
    object_key: str | None = Field(None, description="footage already in the object store")

    @model_validator(mode="after")
    def one_source(self):
        if bool(self.path) == bool(self.object_key):
            raise ValueError("give exactly one of path or object_key")
        return self


class CameraInline(BaseModel):
    detect_fps: float = Field(2.0, gt=0, le=60)
    zones: list[dict] = Field(default_factory=list, description="{id, kind, polygon, normalized} as in cameras.yaml")


class JobOptions(BaseModel):
    segment_s: float | None = Field(None, gt=0, description="segment length (default from settings)")
    warmup_s: float | None = Field(None, ge=0, description="warm-up before each segment")
    gate: bool = Field(False, description="motion gating: faster, but keys may shift at segment cuts")
    camera: CameraInline | None = Field(None, description="zones for footage of a camera not in cameras.yaml")


class JobIn(BaseModel):
    camera_id: str = Field(min_length=1, max_length=64)
    footage: list[Footage] = Field(min_length=1, max_length=10000, description="played back to back")
    start_time: AwareDatetime = Field(description="footage time of the first frame")
    options: JobOptions = Field(default_factory=JobOptions)
