"""Incidents in, tickets out: the idempotent upsert behind ``POST /api/v1/incidents``.

One ticket per incident ``key``, whatever the concurrency: creation is a single
``INSERT ... ON CONFLICT (dedup_key) DO NOTHING RETURNING`` and an update is a single
``UPDATE ... WHERE dedup_key = :key AND seq < :seq RETURNING`` (stale or redelivered messages
change nothing). Both are row-atomic on PostgreSQL and SQLite, so 50 concurrent posts of one
key make one ticket and apply each newer ``seq`` at most once. An ``open`` message tries the
insert first, ``update``/``close`` the update first: one statement in the common case.

An update replaces the evidence and detections when its score is at least the best so far
(the pipeline sends its best snapshot), moves ``last_seen`` forward and records a history
event. If the camera still sees a problem that was marked resolved, the ticket is reopened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.models import Camera, Ticket, TicketEvent, ticket_number
from api.db.types import JSONType, UTCDateTime
from api.schemas.incidents import IncidentIn
from api.services.errors import Invalid
from api.services.lifecycle import transition
from api.services.notify import queue_event
from api.services.review import muted_incident
from api.services.rules import DispatchRules, GridIndex
from api.services.tickets import ticket_to_dict

RECHECK_ACTOR = "system:recheck"
EVENTS = TicketEvent.__table__
TICKETS = Ticket.__table__
INSERT_EVENT = EVENTS.insert()
DISPATCH_ACTOR = "system:dispatch"


@dataclass(frozen=True)
class IngestResult:
    ticket_id: int
    number: str
    status: str
    created: bool


def ingest_incident(session: Session, inc: IncidentIn, actor: Principal, now: datetime, rules: DispatchRules,
                    grids: GridIndex) -> IngestResult:
    """Create or update the ticket of ``inc.key`` in the session's transaction (not committed)."""
    itype = known_issue_type(rules, inc)
    created = False
    ticket = None
    # open: insert first; update/close: update first. A lost insert race falls back to the update.
    steps = ("create", "update") if inc.event == "open" else ("update", "create", "update")
    for step in steps:
        if step == "create":
            if (muting := muted_incident(session, inc, actor, now)) is not None:  # a rejected false positive's place
                return IngestResult(muting.id, ticket_number(muting.created_at.year, muting.id), muting.status, False)
            ticket = _create(session, inc, itype, actor, now, rules, grids)
            created = ticket is not None
        else:
            ticket = _update(session, inc, actor, now, rules)
        if ticket is not None:
            return IngestResult(ticket.id, ticket_number(ticket.created_at.year, ticket.id), ticket.status, created)
    # neither created nor updated: the key exists with a seq at or above this one (a redelivery)
    row = session.execute(select(Ticket.id, Ticket.created_at, Ticket.status)
                          .where(Ticket.dedup_key == inc.key)).one()
    return IngestResult(row.id, ticket_number(row.created_at.year, row.id), row.status, False)


def known_issue_type(rules: DispatchRules, inc: IncidentIn):
    """The incident's issue type from the rules; 422 when there is no such type."""
    itype = rules.issue_type(inc.issue_type)
    if itype is None:
        raise Invalid(("body", "issue_type"), f"unknown issue type {inc.issue_type!r}; known: "
                                              f"{', '.join(sorted(rules.issue_types))}")
    return itype


def _event(session: Session, **values) -> None:
    """A history row, inserted directly (no unit-of-work bookkeeping on the hot path)."""
    session.connection().execute(INSERT_EVENT, values)


# Hot-path statements are built once and run on the session's connection (Core, not the ORM):
# every value travels as a bound parameter, so SQLAlchemy neither rebuilds nor re-keys the
# statement per message (that was most of the CPU a post cost). Rows come back, not Ticket objects.
CREATE_TICKET = {
    name: insert(TICKETS).on_conflict_do_nothing(index_elements=["dedup_key"]).returning(*TICKETS.c)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def _create(session: Session, inc: IncidentIn, itype, actor: Principal, now: datetime, rules: DispatchRules,
            grids: GridIndex):
    """The new ticket's row, or None when the key already has one."""
    lat = lon = address = None
    if inc.location is not None:
        lat, lon, address = inc.location.lat, inc.location.lon, inc.location.address
    elif inc.camera_id:
        cam = session.execute(select(Camera.lat, Camera.lon, Camera.address)
                              .where(Camera.id == inc.camera_id)).first()
        if cam is not None:
            lat, lon, address = cam.lat, cam.lon, cam.address
    severity = inc.severity or itype.severity
    auto = rules.auto_dispatches(inc.issue_type)
    first_seen = inc.first_seen or now
    values = dict(
        dedup_key=inc.key, seq=inc.seq, issue_type=inc.issue_type,
        category_code=inc.category_code or itype.category, name_en=inc.name_en or itype.name_en,
        name_zh=inc.name_zh or itype.name_zh, severity=severity, status="dispatched" if auto else "new",
        source=inc.source, camera_id=inc.camera_id, zone_id=inc.zone_id, job_id=inc.job_id,
        lat=lat, lon=lon, address=address, grid_id=grids.grid_at(lat, lon),
        department_id=rules.department_for(inc.issue_type), detected_at=first_seen,
        last_seen_at=inc.last_seen or first_seen, created_at=now, updated_at=now,
        dispatched_at=now if auto else None, due_at=now + rules.sla_for(inc.issue_type, severity),
        overdue=False, reopen_count=0, incident_state="closed" if inc.event == "close" else "open",
        score=inc.score, detections=[d.model_dump() for d in inc.detections],
        evidence=[e.model_dump() for e in inc.evidence],
    )
    conn = session.connection()
    ticket = conn.execute(CREATE_TICKET[conn.dialect.name], values).first()
    if ticket is None:
        return None
    _event(session, ticket_id=ticket.id, at=now, actor=actor.username, action="created", from_status=None,
           to_status="new", note=f"incident {inc.key} ({inc.event})",
           data={"seq": inc.seq, "source": inc.source, "camera_id": inc.camera_id})
    if auto:
        _event(session, ticket_id=ticket.id, at=now, actor=DISPATCH_ACTOR, action="dispatch", from_status="new",
               to_status="dispatched", note="auto-dispatched by configs/dispatch.yaml",
               data={"department_id": ticket.department_id})
    queue_event(session, "ticket.created", ticket_to_dict(ticket))
    return ticket


def _update_statement():
    """UPDATE ... RETURNING for an incident message, built once (statement construction is a
    measurable share of the CPU per message). A NULL ``seen`` keeps ``last_seen_at``; the
    ``has_*`` flags say whether the message carries evidence or detections."""
    p = bindparam
    seen = p("seen", type_=UTCDateTime())
    t = TICKETS.c
    better = p("score", type_=Float()) >= t.score
    return (update(TICKETS)
            .where(t.dedup_key == p("key", type_=String()), t.seq < p("new_seq", type_=Integer()))
            .values(seq=p("new_seq", type_=Integer()), updated_at=p("now", type_=UTCDateTime()),
                    incident_state=p("state", type_=String()),
                    score=case((better, p("score", type_=Float())), else_=t.score),
                    last_seen_at=case((t.last_seen_at < seen, seen), else_=t.last_seen_at),
                    evidence=case((p("has_evidence", type_=Boolean()) & better, p("evidence", type_=JSONType)),
                                  else_=t.evidence),
                    detections=case((p("has_detections", type_=Boolean()) & better,
                                     p("detections", type_=JSONType)), else_=t.detections))
            .returning(*TICKETS.c))


UPDATE_TICKET = _update_statement()


def _update(session: Session, inc: IncidentIn, actor: Principal, now: datetime,
            rules: DispatchRules):
    """The updated ticket's row, or None when the key has no ticket or a newer ``seq``."""
    params = {"key": inc.key, "new_seq": inc.seq, "now": now, "state": "closed" if inc.event == "close" else "open",
              "score": inc.score, "seen": inc.last_seen, "has_evidence": bool(inc.evidence),
              "evidence": [e.model_dump() for e in inc.evidence], "has_detections": bool(inc.detections),
              "detections": [d.model_dump() for d in inc.detections]}
    ticket = session.connection().execute(UPDATE_TICKET, params).first()
    if ticket is None:
        return None
    _event(session, ticket_id=ticket.id, at=now, actor=actor.username, action=f"incident_{inc.event}",
           from_status=ticket.status, to_status=ticket.status, note=None,
           data={"seq": inc.seq, "score": inc.score, "last_seen": inc.last_seen.isoformat() if inc.last_seen else None})
    if (ticket.status == "resolved" and inc.event != "close" and inc.source == "camera"
            and inc.last_seen is not None and ticket.resolved_at is not None and inc.last_seen > ticket.resolved_at):
        orm = session.get(Ticket, ticket.id, populate_existing=True)  # the lifecycle works on the ORM object
        transition(session, orm, "reopen", RECHECK_ACTOR, now, rules,
                   note="the camera still sees the problem after it was marked resolved")
        return orm
    queue_event(session, "ticket.updated", ticket_to_dict(ticket))
    return ticket
