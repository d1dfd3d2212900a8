"""SLA escalation: open tickets past their due time are flagged, noted in history and announced.

Run periodically by the API (``escalation.interval_s`` in configs/dispatch.yaml), on demand by
``POST /api/v1/admin/escalate`` or ``gridsight api escalate``. The clock is injected, so tests
move time instead of waiting. Each ticket is escalated once per SLA period (reopening starts
a new one); concurrent runs skip rows another run holds (PostgreSQL ``SKIP LOCKED``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.models import OPEN_STATUSES, Ticket
from api.services.lifecycle import record
from api.services.notify import queue_event
from api.services.tickets import iso, ticket_to_dict

ESCALATION_ACTOR = "system:sla"


def escalate_overdue(session: Session, now: datetime, limit: int = 1000) -> list[Ticket]:
    """Flag open tickets whose ``due_at`` has passed; returns them (the caller commits)."""
    stmt = (select(Ticket)
            .where(Ticket.overdue.is_(False), Ticket.due_at < now, Ticket.status.in_(OPEN_STATUSES))
            .order_by(Ticket.due_at).limit(limit).with_for_update(skip_locked=True))
    tickets = list(session.scalars(stmt))
    for t in tickets:
        late = now - t.due_at
        t.overdue = True
        t.escalated_at = now
        t.updated_at = now
        note = (f"overdue by {_minutes(late)} (due {iso(t.due_at)}); escalated to the supervisor of "
                f"{t.department_id or 'the dispatch desk'}")
        record(session, t, ESCALATION_ACTOR, "escalated", now, t.status, t.status, note,
               {"due_at": iso(t.due_at), "late_s": int(late.total_seconds())})
        queue_event(session, "ticket.escalated", ticket_to_dict(t), late_s=int(late.total_seconds()))
    return tickets


def _minutes(delta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"
