"""Bodies of the review console's endpoints: the review queue, camera health."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas.incidents import Location
from api.schemas.tickets import TicketHead


class QueueItem(TicketHead):
    grid_id: str | None
    department_id: str | None
    detected_at: str = Field(description="footage time of the first frame it was seen on")
    last_seen_at: str
    created_at: str
    score: float
    box: list[float] | None = Field(description="union of the detection boxes (source pixels), what the crop shows")
    evidence_kinds: list[str]
    location: Location | None
    thumbnail_url: str | None = Field(description="small JPEG of the annotated frame")
    crop_url: str | None = Field(description="the problem region, zoomed (small JPEG)")


class QueuePage(BaseModel):
    items: list[QueueItem]
    next: str | None = Field(description="pass as `after` for the next page; null on the last page")


class CameraHealth(BaseModel):
    camera_id: str
    name: str
    registered: bool = Field(description="false: tickets name it, the registry does not")
    enabled: bool | None
    state: str = Field(description="online | offline | unknown", examples=["online"])
    worker: str | None = Field(description="the worker holding its lease (distributed cameras)")
    last_frame_at: str | None = Field(description="footage time of the last frame an incident was seen on")
    open_tickets: int
    open_incidents: int = Field(description="open tickets whose incident the pipeline has not closed")
    location: Location | None
    grid_id: str | None
