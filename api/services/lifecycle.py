"""The ticket lifecycle: transitions, their history events, feedback and ratings.

    new -> dispatched -> in_progress -> resolved -> verified -> closed
    resolved -> reopened -> dispatched
    any open state (new, dispatched, in_progress, reopened) -> rejected (reason) | duplicate (link)

An action the ticket's status does not allow raises :class:`~api.services.errors.Conflict`
naming the actions that are allowed. Every change writes a :class:`TicketEvent`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.models import DONE_STATUSES, OPEN_STATUSES, Department, Feedback, Ticket, TicketEvent, User
from api.services.errors import Conflict, Invalid, NotFound
from api.services.notify import queue_event
from api.services.rules import DispatchRules
from api.services.tickets import find_ticket, ticket_to_dict

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "dispatch": (("new", "reopened"), "dispatched"),
    "start": (("dispatched",), "in_progress"),
    "resolve": (("in_progress",), "resolved"),
    "verify": (("resolved",), "verified"),
    "close": (("verified",), "closed"),
    "reopen": (("resolved",), "reopened"),
    "reject": (OPEN_STATUSES, "rejected"),
    "duplicate": (OPEN_STATUSES, "duplicate"),
}


def allowed_actions(status: str) -> list[str]:
    return [a for a, (sources, _) in TRANSITIONS.items() if status in sources]


def actor_name(actor: Principal | str) -> str:
    return actor if isinstance(actor, str) else actor.username


def record(session: Session, ticket: Ticket, actor: Principal | str, action: str, at: datetime,
           from_status: str | None, to_status: str | None, note: str | None = None, data: dict | None = None) -> None:
    session.add(TicketEvent(ticket_id=ticket.id, at=at, actor=actor_name(actor), action=action,
                            from_status=from_status, to_status=to_status, note=note, data=data))


def transition(session: Session, ticket: Ticket, action: str, actor: Principal | str, now: datetime,
               rules: DispatchRules, *, note: str | None = None, reason: str | None = None,
               department_id: str | None = None, assignee_id: int | None = None,
               duplicate_of: str | int | None = None) -> Ticket:
    """Apply ``action`` to ``ticket`` (already loaded for update and scope-checked)."""
    if action not in TRANSITIONS:
        raise KeyError(action)
    sources, target = TRANSITIONS[action]
    before = ticket.status
    if before not in sources:
        allowed = allowed_actions(before)
        raise Conflict(f"cannot {action} ticket {ticket.number}: it is {before}; allowed: "
                       f"{', '.join(allowed) or 'none (final state)'}", before, allowed)
    data: dict = {}
    if action == "dispatch":
        _dispatch(session, ticket, department_id, assignee_id, data)
        ticket.dispatched_at = now
    elif action == "start":
        if ticket.assignee_id is None and not isinstance(actor, str) and actor.role == "handler":
            ticket.assignee_id = actor.user_id
            data["assignee_id"] = actor.user_id
    elif action == "resolve":
        ticket.resolved_at = now
    elif action == "verify":
        ticket.verified_at = now
    elif action == "close":
        ticket.closed_at = now
    elif action == "reopen":
        ticket.reopen_count += 1
        ticket.resolved_at = None
        ticket.verified_at = None
        ticket.due_at = now + rules.sla_for(ticket.issue_type, ticket.severity)
        ticket.overdue = False
        ticket.escalated_at = None
        data["due_at"] = ticket.due_at.isoformat()
    elif action == "reject":
        if not (reason and reason.strip()):
            raise Invalid(("body", "reason"), "a reason is required to reject a ticket (why is it a false positive?)")
        ticket.reason = reason.strip()
        note = note or ticket.reason
    elif action == "duplicate":
        original = _original_of(session, ticket, duplicate_of)
        ticket.duplicate_of_id = original.id
        data["duplicate_of"] = original.number
    ticket.status = target
    ticket.updated_at = now
    record(session, ticket, actor, action, now, before, target, note, data or None)
    queue_event(session, "ticket.status_changed", ticket_to_dict(ticket), action=action,
                from_status=before, to_status=target, actor=actor_name(actor))
    return ticket


def _dispatch(session: Session, ticket: Ticket, department_id: str | None, assignee_id: int | None,
              data: dict) -> None:
    if department_id is not None:
        if session.get(Department, department_id) is None:
            raise Invalid(("body", "department_id"), f"no department {department_id!r}")
        ticket.department_id = department_id
    if ticket.department_id is None:
        raise Invalid(("body", "department_id"), "this ticket has no department yet: name one")
    if assignee_id is not None:
        user = session.get(User, assignee_id)
        if user is None or not user.active:
            raise Invalid(("body", "assignee_id"), f"no active user {assignee_id}")
        if user.role != "handler" or user.department_id != ticket.department_id:
            raise Invalid(("body", "assignee_id"),
                          f"user {user.username} is not a handler of department {ticket.department_id}")
        ticket.assignee_id = assignee_id
    data.update(department_id=ticket.department_id, assignee_id=ticket.assignee_id)


def _original_of(session: Session, ticket: Ticket, ref: str | int | None) -> Ticket:
    if ref is None or str(ref).strip() == "":
        raise Invalid(("body", "duplicate_of"), "name the ticket this one duplicates (id or number)")
    try:
        original = find_ticket(session, ref)
    except NotFound:
        raise Invalid(("body", "duplicate_of"), f"no ticket {ref}") from None
    if original.id == ticket.id:
        raise Invalid(("body", "duplicate_of"), "a ticket cannot duplicate itself")
    while original.duplicate_of_id is not None and original.status == "duplicate":  # point at the root
        original = session.get(Ticket, original.duplicate_of_id)
        if original is None or original.id == ticket.id:
            raise Invalid(("body", "duplicate_of"), "that ticket is itself a duplicate of this one")
    return original


def check_feedback(ticket: Ticket, actor: Principal, note: str | None, rating: int | None, photos: int) -> None:
    """Refuse feedback that cannot be recorded (called before any photo is stored)."""
    if not (note or "").strip() and rating is None and not photos:
        raise Invalid(("body", "note"), "send a note, photos or a rating")
    if rating is not None:
        if not actor.may("ticket.rate"):
            raise Invalid(("body", "rating"), f"role {actor.role} may add notes and photos but not rate")
        if not 1 <= rating <= 5:
            raise Invalid(("body", "rating"), "rating must be 1 to 5")
        if ticket.status not in DONE_STATUSES:
            raise Conflict(f"ticket {ticket.number} is {ticket.status}: rate the handling once it is resolved",
                           ticket.status, allowed_actions(ticket.status))


def add_feedback(session: Session, ticket: Ticket, actor: Principal, now: datetime, *, note: str | None = None,
                 rating: int | None = None, photos: list[str] | None = None) -> Feedback:
    """A handler's note and photos, or a rating (1-5) of the handling once it is done."""
    photos = list(photos or [])
    check_feedback(ticket, actor, note, rating, len(photos))
    note = (note or "").strip() or None
    fb = Feedback(ticket_id=ticket.id, at=now, author=actor.username, role=actor.role, note=note,
                  rating=rating, photos=photos)
    session.add(fb)
    ticket.updated_at = now
    record(session, ticket, actor, "feedback", now, ticket.status, ticket.status, note,
           {"rating": rating, "photos": photos} if (rating is not None or photos) else None)
    queue_event(session, "ticket.feedback", ticket_to_dict(ticket), rating=rating, note=note, actor=actor.username)
    return fb


def history(session: Session, ticket: Ticket) -> list[TicketEvent]:
    return list(session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
                                .order_by(TicketEvent.at, TicketEvent.id)))


def feedback_of(session: Session, ticket: Ticket) -> list[Feedback]:
    return list(session.scalars(select(Feedback).where(Feedback.ticket_id == ticket.id).order_by(Feedback.id)))
