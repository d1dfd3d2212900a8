"""Reading tickets: the serializer, the list filter, lookups by id or number, role scopes.

Reused by the GeoJSON and Open311 routers: :func:`ticket_to_dict` (one ticket as JSON-ready
dict) and :func:`filter_tickets` (applies :class:`TicketFilters` and the caller's scope to any
``select`` over :class:`~api.db.models.Ticket`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, case, literal_column, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.models import SEVERITIES, Ticket, parse_ticket_number, ticket_number
from api.services.errors import Forbidden, NotFound
from gridsight.times import iso

API = "/api/v1"
SEVERITY_RANK = case({s: i for i, s in enumerate(SEVERITIES)}, value=Ticket.severity, else_=-1)
SORTS = {
    "created_at": Ticket.created_at,
    "updated_at": Ticket.updated_at,
    "detected_at": Ticket.detected_at,
    "due_at": Ticket.due_at,
    "severity": SEVERITY_RANK,
    "id": Ticket.id,
}
SORT_CHOICES = tuple(k for s in SORTS for k in (s, f"-{s}"))


def evidence_url(ticket_id: int, kind: str) -> str:
    return f"{API}/tickets/{ticket_id}/evidence?kind={kind}"


def ticket_to_dict(t: Ticket, link=None) -> dict:
    """A ticket as plain JSON types (what the API returns and push events carry); ``t`` may also
    be a row of the tickets table's columns. ``link(ticket_id, kind)``: the evidence URLs (the
    caller's signed links, :meth:`api.signing.EvidenceLinks.for_principal`); default the plain
    API path, which needs credentials."""
    link = link or evidence_url
    return {
        "id": t.id,
        "number": ticket_number(t.created_at.year, t.id),
        "dedup_key": t.dedup_key,
        "seq": t.seq,
        "issue_type": t.issue_type,
        "category_code": t.category_code,
        "name_en": t.name_en,
        "name_zh": t.name_zh,
        "severity": t.severity,
        "status": t.status,
        "source": t.source,
        "camera_id": t.camera_id,
        "zone_id": t.zone_id,
        "job_id": t.job_id,
        "location": None if t.lat is None or t.lon is None else {"lat": t.lat, "lon": t.lon, "address": t.address},
        "grid_id": t.grid_id,
        "department_id": t.department_id,
        "assignee_id": t.assignee_id,
        "detected_at": iso(t.detected_at),
        "last_seen_at": iso(t.last_seen_at),
        "created_at": iso(t.created_at),
        "updated_at": iso(t.updated_at),
        "dispatched_at": iso(t.dispatched_at),
        "due_at": iso(t.due_at),
        "resolved_at": iso(t.resolved_at),
        "verified_at": iso(t.verified_at),
        "closed_at": iso(t.closed_at),
        "escalated_at": iso(t.escalated_at),
        "overdue": t.overdue,
        "reopen_count": t.reopen_count,
        "duplicate_of_id": t.duplicate_of_id,
        "reason": t.reason,
        "incident_state": t.incident_state,
        "score": t.score,
        "detections": t.detections or [],
        "evidence": [{**e, "url": link(t.id, e.get("kind", "raw"))} for e in (t.evidence or [])],
    }


@dataclass
class TicketFilters:
    """What a ticket list may be narrowed to. ``bbox``: (min_lon, min_lat, max_lon, max_lat)."""

    status: list[str] | None = None
    issue_type: list[str] | None = None
    severity: list[str] | None = None
    grid_id: str | None = None
    department_id: str | None = None
    camera_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    overdue: bool | None = None


def scope_clauses(principal: Principal | None) -> list:
    """A handler sees its department's tickets, a grid officer its grid's; others all."""
    if principal is None:
        return []
    if principal.role == "handler":
        return [Ticket.department_id == principal.department_id]
    if principal.role == "grid_officer":
        return [Ticket.grid_id == principal.grid_id]
    return []


def filter_tickets(stmt: Select, f: TicketFilters, principal: Principal | None = None) -> Select:
    """Apply the filters (and the caller's scope) to a select over tickets."""
    where = scope_clauses(principal)
    if f.status:
        where.append(Ticket.status.in_(f.status) if len(f.status) > 1 else Ticket.status == f.status[0])
    if f.issue_type:
        where.append(Ticket.issue_type.in_(f.issue_type) if len(f.issue_type) > 1
                     else Ticket.issue_type == f.issue_type[0])
    if f.severity:
        where.append(Ticket.severity.in_(f.severity))
    if f.grid_id:
        where.append(Ticket.grid_id == f.grid_id)
    if f.department_id:
        where.append(Ticket.department_id == f.department_id)
    if f.camera_id:
        where.append(Ticket.camera_id == f.camera_id)
    if f.created_from:
        where.append(Ticket.created_at >= f.created_from)
    if f.created_to:
        where.append(Ticket.created_at < f.created_to)
    if f.bbox:
        min_lon, min_lat, max_lon, max_lat = f.bbox
        where += [Ticket.lat.between(min_lat, max_lat), Ticket.lon.between(min_lon, max_lon)]
    if f.overdue is not None:
        where.append(Ticket.overdue.is_(f.overdue))
    return stmt.where(*where) if where else stmt


COUNT_AHEAD = 200  # totals are exact up to this many tickets past the page's offset
TICKET_COLUMNS = tuple(Ticket.__table__.c)


def list_tickets(session: Session, f: TicketFilters, principal: Principal | None, *, sort: str = "-created_at",
                 limit: int = 50, offset: int = 0, with_total: bool = True) -> tuple[list, int | None, bool]:
    """One page of tickets (rows of the tickets table, for :func:`ticket_to_dict`), the number
    matching, counted up to ``offset`` + :data:`COUNT_AHEAD`, and whether that number is exact.
    Two indexed queries, no per-row queries, no ORM objects (a list is read-only)."""
    desc = sort.startswith("-")
    key = SORTS[sort.lstrip("-")]
    order = [key.desc(), Ticket.id.desc()] if desc else [key.asc(), Ticket.id.asc()]
    conn = session.connection()  # Core: plain rows, no ORM loading machinery
    rows = conn.execute(filter_tickets(select(*TICKET_COLUMNS), f, principal).order_by(*order)
                        .limit(limit).offset(offset)).all()
    if not with_total:
        return rows, None, False
    if len(rows) < limit and (rows or offset == 0):
        return rows, offset + len(rows), True
    # Count by fetching at most cap + 1 constants: the filter's index answers alone and the
    # count stops early, where an exact COUNT(*) over a broad filter would cost more than the page.
    cap = offset + COUNT_AHEAD
    total = len(conn.execute(filter_tickets(select(literal_column("1")).select_from(Ticket.__table__), f, principal)
                             .limit(cap + 1)).all())
    return rows, min(total, cap), total <= cap


def find_ticket(session: Session, ref: str | int, *, for_update: bool = False) -> Ticket:
    """A ticket by id (``123``) or number (``GS-2026-000123``); NotFound otherwise."""
    ticket_id, year = None, None
    text = str(ref).strip()
    if text.isascii() and text.isdigit() and len(text) <= 19:  # not "²", not 5,000 digits
        ticket_id = int(text)
    else:
        parsed = parse_ticket_number(text)
        if parsed:
            year, ticket_id = parsed
    if ticket_id is None or ticket_id > 2**62:
        raise NotFound(f"no ticket {ref}")
    stmt = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        stmt = stmt.with_for_update()
    ticket = session.scalars(stmt).first()
    if ticket is None or (year is not None and ticket.created_at.year != year):
        raise NotFound(f"no ticket {ref}")
    return ticket


def check_scope(principal: Principal, ticket: Ticket) -> None:
    if principal.role == "handler" and ticket.department_id != principal.department_id:
        raise Forbidden(f"ticket {ticket.number} belongs to department {ticket.department_id}, "
                        f"not yours ({principal.department_id})")
    if principal.role == "grid_officer" and ticket.grid_id != principal.grid_id:
        raise Forbidden(f"ticket {ticket.number} lies in grid {ticket.grid_id}, not yours ({principal.grid_id})")


def get_ticket(session: Session, ref: str | int, principal: Principal, *, for_update: bool = False) -> Ticket:
    ticket = find_ticket(session, ref, for_update=for_update)
    check_scope(principal, ticket)
    return ticket
