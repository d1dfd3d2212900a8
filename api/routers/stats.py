"""``GET /api/v1/stats``: how the city's problems are being handled."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.schemas.reports import StatsOut
from api.schemas.tickets import ticket_filters
from api.services.stats import compute_stats
from api.services.tickets import TicketFilters
from api.state import db_session

router = APIRouter(prefix="/api/v1", tags=["stats"])


@router.get("/stats", response_model=StatsOut,
            summary="Counts by status, type, grid, department and period; times, SLA, rates, rating")
def stats(filters: TicketFilters = Depends(ticket_filters),
          period: Literal["day", "week", "month"] = Query("day"),
          session: Session = Depends(db_session), principal: Principal = require("stats.read")) -> dict:
    return compute_stats(session, filters, principal, period)
