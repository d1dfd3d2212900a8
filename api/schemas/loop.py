"""Bodies of the closed loop's endpoints: review, mutes, verification reports, reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.incidents import DetectionIn
from api.schemas.types import Instant

Reason = Literal["wrong_class", "not_a_problem", "duplicate", "privacy"]


class ReviewIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"verdict": "confirmed"},
        {"verdict": "rejected", "reason": "not_a_problem", "note": "a delivery van, loading is allowed here"},
        {"verdict": "rejected", "reason": "wrong_class", "correct_class": "truck"},
        {"verdict": "rejected", "reason": "duplicate", "duplicate_of": "GS-2026-000123"}]})

    verdict: Literal["confirmed", "rejected"]
    reason: Reason | None = Field(None, description="required to reject: wrong_class, not_a_problem, duplicate, "
                                                    "privacy")
    note: str | None = Field(None, max_length=4000)
    duplicate_of: str | None = Field(None, max_length=32, description="reason duplicate: the original ticket")
    correct_class: str | None = Field(None, max_length=64, description="reason wrong_class: what it really is "
                                                                       "(the export labels it so)")
    mute: bool | None = Field(None, description="default: mute for wrong_class, not_a_problem and privacy on "
                                                "camera tickets")
    mute_hours: float | None = Field(None, gt=0, le=24 * 365, description="default: GRIDSIGHT_MUTE_HOURS (24)")

    @model_validator(mode="after")
    def _reason_goes_with_reject(self) -> "ReviewIn":
        if self.verdict == "rejected" and self.reason is None:
            raise ValueError("a reason is required to reject: wrong_class, not_a_problem, duplicate or privacy")
        if self.verdict == "confirmed" and (self.reason or self.duplicate_of or self.correct_class or self.mute):
            raise ValueError("reason, duplicate_of, correct_class and mute go with verdict rejected")
        return self


class LiftIn(BaseModel):
    note: str | None = Field(None, max_length=4000)


class VerificationIn(BaseModel):
    """What the pipeline saw when it re-watched a resolved ticket's camera and zone."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "camera_id": "cam-01", "outcome": "gone", "resolved_at": "2026-11-28T07:00:00Z",
        "window_start": "2026-11-28T07:00:05Z", "window_end": "2026-11-28T07:01:05Z", "frames": 120,
        "present_frames": 0}]})

    camera_id: str = Field(min_length=1, max_length=64)
    outcome: Literal["still_present", "gone", "camera_offline"]
    resolved_at: Instant | None = Field(None, description="the resolve this check answers (a stale report "
                                                                "for an earlier resolve changes nothing)")
    window_start: Instant | None = None
    window_end: Instant | None = None
    frames: int = Field(0, ge=0, le=10_000_000, description="frames judged in the window")
    present_frames: int = Field(0, ge=0, le=10_000_000, description="of which showed the problem")
    score: float | None = Field(None, ge=0, le=1)
    detections: list[DetectionIn] = Field(default_factory=list, max_length=500)
    reason: str | None = Field(None, max_length=2000, description="camera_offline: why (required)")

    @model_validator(mode="after")
    def _consistent(self) -> "VerificationIn":
        if self.present_frames > self.frames:
            raise ValueError("present_frames is more than frames")
        if self.window_start and self.window_end and self.window_end < self.window_start:
            raise ValueError("window_end is before window_start")
        return self
