"""The evaluation report, as JSON and as a chart (PNG) the docs UI shows."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.schemas.reports import ReportOut
from api.schemas.tickets import ticket_filters
from api.services.reports import build_report, chart_png
from api.services.tickets import TicketFilters
from api.state import db_session

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
DB = Annotated[Session, Depends(db_session)]
By = Literal["department", "grid"]
Period = Literal["day", "week", "month"]
_DOC = ("Per department or grid and per period (tickets created in it): tickets, mean time to dispatch and to "
        "fix (hours), tickets verified and the share verified by camera, reopen rate, false-positive rate, mean "
        "rating. Filters as for the ticket list (`from`, `to`, `type`, ...); the caller's scope applies.")


@router.get("/evaluation", response_model=ReportOut, summary="Evaluation report (JSON)", description=_DOC)
def evaluation(session: DB, filters: TicketFilters = Depends(ticket_filters), by: By = Query("department"),
               period: Period = Query("week"), principal: Principal = require("stats.read")) -> dict:
    return build_report(session, filters, principal, by=by, period=period)


@router.get("/evaluation.png", summary="Evaluation report as a chart (PNG)", description=_DOC,
            response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "one panel per metric, a line per group"}})
async def evaluation_png(session: DB, filters: TicketFilters = Depends(ticket_filters), by: By = Query("department"),
                         period: Period = Query("week"), principal: Principal = require("stats.read")) -> Response:
    report = await run_in_threadpool(build_report, session, filters, principal, by=by, period=period)
    session.close()
    png = await run_in_threadpool(chart_png, report)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=60"})
