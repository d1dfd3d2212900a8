"""The answer of ``POST /api/v1/detect``: detections per image and the incidents and tickets they made."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.incidents import IncidentAnswer
from api.schemas.loop import FoundObject


class DetectorInfo(BaseModel):
    backend: str | None = Field(examples=["openvino"])
    imgsz: int | None
    classes: int = Field(description="how many classes the model knows")


class UploadIncident(BaseModel):
    key: str
    issue_type: str
    zone_id: str | None
    score: float


class DetectedImage(BaseModel):
    filename: str
    sha256: str
    width: int
    height: int
    detections: list[FoundObject]
    incidents: list[UploadIncident] = Field(description="what the issue rules make of the detections")
    tickets: list[IncidentAnswer] = Field(description="the tickets of those incidents (empty with "
                                                      "create_tickets=false)")


class DetectAnswer(BaseModel):
    detector: DetectorInfo
    create_tickets: bool
    images: list[DetectedImage]
