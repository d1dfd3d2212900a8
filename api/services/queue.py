"""The review queue: detections not yet reviewed, newest first, one keyset page at a time.

A queue item is a ticket no operator has confirmed or rejected yet (no row in ``reviews``),
in an open status by default (one that can still be rejected), narrowed by camera, issue type,
grid and status within the caller's scope. Pages are keyed by ``(created_at, id)`` of the last
item seen (the cursor), so page 1,000 costs what page 1 costs; the status, camera, type and grid
indexes of the tickets table lead the scan (``ix_tickets_*_created``) and the review lookup is the
unique index on ``reviews.ticket_id``.

>>> encode_cursor(datetime(2026, 3, 2, 8, tzinfo=timezone.utc), 42)
'2026-03-02T08:00:00.000000Z~42'
>>> decode_cursor('2026-03-02T08:00:00.000000Z~42')
(datetime.datetime(2026, 3, 2, 8, 0, tzinfo=datetime.timezone.utc), 42)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.loop import Review
from api.db.models import OPEN_STATUSES, Ticket, ticket_number
from api.services.errors import Invalid
from api.services.tickets import API, TicketFilters, filter_tickets, iso

COLUMNS = (Ticket.id, Ticket.created_at, Ticket.issue_type, Ticket.category_code, Ticket.name_en, Ticket.name_zh,
           Ticket.severity, Ticket.status, Ticket.source, Ticket.camera_id, Ticket.zone_id, Ticket.grid_id,
           Ticket.department_id, Ticket.detected_at, Ticket.last_seen_at, Ticket.score, Ticket.detections,
           Ticket.evidence, Ticket.lat, Ticket.lon, Ticket.address)
_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


@dataclass
class QueueFilters:
    camera_id: str | None = None
    issue_type: str | None = None
    grid_id: str | None = None
    status: list[str] | None = None  # default: the open statuses
    reviewed: bool = False


def encode_cursor(created_at: datetime, ticket_id: int) -> str:
    return f"{created_at.astimezone(timezone.utc).strftime(_TIME)}~{ticket_id}"


def decode_cursor(text: str) -> tuple[datetime, int]:
    try:
        when, _, ident = text.partition("~")
        at, ticket_id = datetime.strptime(when, _TIME).replace(tzinfo=timezone.utc), int(ident)
    except ValueError:
        ticket_id = -1
    if not 0 <= ticket_id <= 2**62:
        raise Invalid(("query", "after"), "after is the `next` cursor of the previous page")
    return at, ticket_id


def focus_box(detections: list | None) -> list[float] | None:
    """The box the problem is in: the union of the incident's detection boxes (None without any)."""
    boxes = []
    for d in detections or []:
        try:
            box = [float(v) for v in d["box"]]
        except (TypeError, KeyError, ValueError):  # a stored row never makes the queue fail
            continue
        if len(box) == 4 and all(math.isfinite(v) for v in box):
            boxes.append(box)
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def queue_item(row) -> dict:
    """One queue entry: what an operator needs to judge the detection at a glance."""
    kinds = [e.get("kind") for e in row.evidence or []]
    thumb = f"{API}/tickets/{row.id}/thumbnail"
    return {
        "id": row.id, "number": ticket_number(row.created_at.year, row.id), "issue_type": row.issue_type,
        "category_code": row.category_code, "name_en": row.name_en, "name_zh": row.name_zh,
        "severity": row.severity, "status": row.status, "source": row.source, "camera_id": row.camera_id,
        "zone_id": row.zone_id, "grid_id": row.grid_id, "department_id": row.department_id,
        "detected_at": iso(row.detected_at), "last_seen_at": iso(row.last_seen_at), "created_at": iso(row.created_at),
        "score": row.score, "box": focus_box(row.detections), "evidence_kinds": kinds,
        "location": None if row.lat is None or row.lon is None else {"lat": row.lat, "lon": row.lon,
                                                                       "address": row.address},
        "thumbnail_url": f"{thumb}?kind=frame" if kinds else None,
        "crop_url": f"{thumb}?kind=crop" if kinds else None,
    }


def review_queue(session: Session, f: QueueFilters, principal: Principal | None, *, limit: int = 50,
                 after: str | None = None) -> dict:
    """One page of the queue: ``{"items": [...], "next": cursor or None}``."""
    reviewed = exists().where(Review.ticket_id == Ticket.id)
    narrow = TicketFilters(status=f.status or list(OPEN_STATUSES), issue_type=[f.issue_type] if f.issue_type else None,
                           grid_id=f.grid_id, camera_id=f.camera_id)
    stmt = filter_tickets(select(*COLUMNS), narrow, principal).where(reviewed if f.reviewed else ~reviewed)
    if after:
        at, ticket_id = decode_cursor(after)
        stmt = stmt.where(or_(Ticket.created_at < at, and_(Ticket.created_at == at, Ticket.id < ticket_id)))
    rows = session.connection().execute(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc())
                                        .limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [queue_item(r) for r in rows],
            "next": encode_cursor(rows[-1].created_at, rows[-1].id) if more else None}
