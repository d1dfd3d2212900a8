"""The incident contract as the ticket API takes it (the models live in the shared core,
:mod:`gridsight.incident`, so the pipeline posts what the API validates), and the API's answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gridsight.incident import DetectionIn, EvidenceRef, IncidentIn, Location, Severity  # noqa: F401

__all__ = ["DetectionIn", "EvidenceRef", "IncidentAnswer", "IncidentIn", "Location", "Severity"]


class IncidentAnswer(BaseModel):
    ticket_id: int
    number: str = Field(examples=["GS-2026-000123"])
    status: str
    created: bool
