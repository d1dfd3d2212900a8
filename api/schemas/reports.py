"""Answers of the statistics and the evaluation report (``/api/v1/stats``, ``/api/v1/reports``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StatsOut(BaseModel):
    total: int
    by_status: dict[str, int] = Field(examples=[{"new": 3, "dispatched": 5, "closed": 12}])
    by_type: dict[str, int] = Field(examples=[{"illegal_parking": 14, "garbage": 6}])
    by_grid: dict[str, int] = Field(description="`none`: tickets outside every grid",
                                    examples=[{"grid-north-west": 15, "none": 5}])
    by_department: dict[str, int] = Field(examples=[{"traffic-police": 14, "sanitation": 6}])
    period: str = Field(description="day, week or month")
    by_period: dict[str, int] = Field(examples=[{"2026-11-27": 8, "2026-11-28": 12}])
    mean_time_to_dispatch_s: float | None
    mean_time_to_resolve_s: float | None
    sla_compliance: float | None = Field(description="share of resolved tickets resolved before their due time")
    overdue_open: int
    reopen_rate: float | None
    false_positive_rate: float | None
    mean_rating: float | None
    ratings: int


class ReportCell(BaseModel):
    """The numbers of one cohort: tickets created in a period (and group)."""

    tickets: int
    mean_time_to_dispatch_h: float | None
    mean_time_to_fix_h: float | None
    verified: int
    verified_by_camera: int
    verified_by_camera_share: float | None
    reopen_rate: float | None
    false_positive_rate: float | None
    mean_rating: float | None
    ratings: int


class ReportRow(ReportCell):
    period: str = Field(examples=["2026-W48"])
    group: str = Field(description="department or grid id; `none` when the ticket has none",
                       examples=["traffic-police"])


class ReportOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    by: str = Field(description="department or grid")
    period: str = Field(description="day, week or month")
    from_: str | None = Field(alias="from")
    to: str | None
    rows: list[ReportRow]
    groups: dict[str, ReportCell] = Field(description="totals per department or grid")
    total: ReportCell
