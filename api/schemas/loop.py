"""Bodies of the closed loop's endpoints: review, mutes, verification reports, reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas import examples
from api.schemas.incidents import DetectionIn
from api.schemas.tickets import DetectionOut, EvidenceOut, TicketOut
from gridsight.fields import Instant

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
    model_config = examples({"note": "The loading bay sign is gone: report parking here again"}, {})

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


# --- answers ------------------------------------------------------------------------------------

class ReviewOut(BaseModel):
    verdict: Literal["confirmed", "rejected"]
    reason: str | None
    correct_class: str | None
    note: str | None
    reviewer: str
    at: str


class MuteOut(BaseModel):
    """New incidents at this camera, zone and issue type make no ticket until ``until``."""

    id: int
    camera_id: str
    zone_id: str | None
    issue_type: str
    ticket_id: int = Field(description="the rejected ticket that made it")
    reason: str
    created_by: str
    created_at: str
    until: str
    lifted_at: str | None
    lifted_by: str | None
    active: bool = Field(description="in force now")
    suppressed: int = Field(description="incidents it has kept from making tickets")
    last_suppressed_at: str | None
    last_key: str | None


class ReviewAnswer(BaseModel):
    ticket: TicketOut
    review: ReviewOut
    mute: MuteOut | None = Field(description="the mute this rejection made, if any")


class TicketReview(BaseModel):
    ticket_id: int
    number: str
    review: ReviewOut | None = Field(description="null: not reviewed yet")
    mutes: list[MuteOut]
    muted: bool = Field(description="a mute covering the ticket's camera, zone and type is in force")


class ReviewedDetection(BaseModel):
    review_id: int
    ticket_id: int
    number: str
    verdict: Literal["confirmed", "rejected"]
    reason: str | None
    correct_class: str | None
    reviewed_at: str
    reviewer: str
    issue_type: str
    source: str
    camera_id: str | None
    zone_id: str | None
    detected_at: str
    detections: list[DetectionOut]
    raw: EvidenceOut | None = Field(description="the raw (unannotated) evidence frame")


class ReviewedPage(BaseModel):
    items: list[ReviewedDetection]
    next_after_id: int | None = Field(description="pass as `after_id` for the next page; null: no more")


class FoundObject(DetectionOut):
    """A detection as the detector or a camera check reported it."""

    class_id: int | None = None


class VerificationImage(BaseModel):
    kind: str = Field(description="before, after_raw, after_annotated or before_after")
    object_key: str
    sha256: str | None = None
    content_type: str = "image/jpeg"
    url: str = Field(description="GET it for the image")


class VerificationOut(BaseModel):
    id: int
    ticket_id: int
    method: Literal["camera", "photo"]
    outcome: Literal["still_present", "gone", "camera_offline"]
    applied: str = Field(description="what it did to the ticket: verify, reopen or note (nothing else)")
    at: str
    actor: str
    resolved_at: str | None
    window_start: str | None
    window_end: str | None
    frames: int
    present_frames: int
    note: str | None
    detections: list[FoundObject]
    images: list[VerificationImage]


class VerificationReportAnswer(BaseModel):
    applied: bool = Field(description="false: the ticket is no longer at that resolve (nothing changed)")
    reason: str | None
    verification: VerificationOut | None
    ticket: TicketOut


class PhotoVerdict(BaseModel):
    outcome: Literal["still_present", "gone"]
    detections: list[FoundObject] = Field(description="everything the detector found")
    counted: list[FoundObject] = Field(description="the detections that make the issue type's rule hold (its "
                                                   "classes above their threshold, at the ticket's zone)")
    min_score: float = Field(description="the lowest of min_scores")
    min_scores: dict[str, float] = Field(default_factory=dict, description="the score threshold per class: the "
                                         "camera's sensitivity, else the rule's min_score, else the model's "
                                         "operating point", examples=[{"car": 0.35, "truck": 0.35}])
    zone_id: str | None = Field(None, description="the zone the photo was judged at (null: the whole photo)")
    coverage: float = Field(0.0, description="share of the zone covered by the boxes (area rules)")
    classes: list[str]
    verification: VerificationOut
    ticket: TicketOut


class PendingCheck(BaseModel):
    ticket_id: int
    number: str
    issue_type: str
    camera_id: str | None
    zone_id: str | None
    resolved_at: str | None
