"""``GET /api/v1/tickets.geojson``: one map of the city's problems (RFC 7946 GeoJSON).

Same filters as the ticket list (status, type, severity, grid, department, camera, time range,
bbox, overdue) and the caller's scope; without a ``status`` filter only open tickets are shown
(new, dispatched, in_progress, reopened). Tickets without a location are left out. Each feature
is a point ``[lon, lat]`` with the ticket's type, severity, status, grid, department and links
to the ticket and its evidence image.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.auth import Principal, require
from api.db.models import OPEN_STATUSES, Ticket, ticket_number
from api.schemas.geo import EXAMPLE, GeoJSONResponse, TicketMap
from api.schemas.tickets import ticket_filters
from api.services.tickets import API, TicketFilters, evidence_url, filter_tickets, iso

router = APIRouter(prefix="/api/v1", tags=["tickets"])
MAX_FEATURES = 10_000
COLUMNS = (Ticket.id, Ticket.created_at, Ticket.issue_type, Ticket.category_code, Ticket.name_en,
           Ticket.name_zh, Ticket.severity, Ticket.status, Ticket.grid_id, Ticket.department_id,
           Ticket.camera_id, Ticket.overdue, Ticket.lat, Ticket.lon, Ticket.address, Ticket.evidence,
           Ticket.updated_at)


def feature(row) -> dict:
    number = ticket_number(row.created_at.year, row.id)
    kinds = [e.get("kind") for e in (row.evidence or [])]
    kind = "annotated" if "annotated" in kinds else (kinds[0] if kinds else None)
    return {
        "type": "Feature",
        "id": number,
        "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "properties": {
            "number": number, "ticket_id": row.id, "issue_type": row.issue_type,
            "category_code": row.category_code, "name_en": row.name_en, "name_zh": row.name_zh,
            "severity": row.severity, "status": row.status, "grid_id": row.grid_id,
            "department_id": row.department_id, "camera_id": row.camera_id, "overdue": row.overdue,
            "address": row.address, "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
            "url": f"{API}/tickets/{row.id}",
            "evidence_url": evidence_url(row.id, kind) if kind else None,
        },
    }


def collect(session, f: TicketFilters, principal: Principal, limit: int) -> dict:
    if not f.status:
        f.status = list(OPEN_STATUSES)
    stmt = (filter_tickets(select(*COLUMNS), f, principal)
            .where(Ticket.lat.is_not(None), Ticket.lon.is_not(None))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1))
    rows = session.execute(stmt).all()
    return {"type": "FeatureCollection", "features": [feature(r) for r in rows[:limit]],
            "truncated": len(rows) > limit}


@router.get("/tickets.geojson", summary="Map of tickets as GeoJSON (same filters as the list)",
            response_class=GeoJSONResponse, response_model=TicketMap,
            responses={200: {"content": {"application/geo+json": {"example": EXAMPLE}},
                             "description": "a FeatureCollection; `truncated` is true when `limit` cut it"}})
async def tickets_geojson(request: Request, f: TicketFilters = Depends(ticket_filters),
                          limit: int = Query(2000, ge=1, le=MAX_FEATURES, description="most features returned, newest first"),
                          principal: Principal = require("tickets.read")) -> JSONResponse:
    gs = request.app.state.gs

    def run():
        with gs.sessions() as session:
            return collect(session, f, principal, limit)

    return JSONResponse(await run_in_threadpool(run), media_type="application/geo+json")
