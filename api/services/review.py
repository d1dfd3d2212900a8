"""Operator review: confirm or reject a ticket's detection; mutes for rejected false positives.

* **confirm**: the detection was right (a training label for the next model).
* **reject** with a reason: ``wrong_class``, ``not_a_problem``, ``privacy`` move the ticket to
  ``rejected``; ``duplicate`` moves it to ``duplicate`` (it needs ``duplicate_of``). The first
  three are false positives and, for a camera ticket, mute its camera, zone and issue type for
  ``settings.mute_hours`` (the body may ask otherwise): a new incident there makes no ticket; its
  posts are counted on the mute (:func:`muted_incident`, called by the incident upsert).
* A mute shows in the ticket's history and under ``GET /tickets/{id}/review``; it can be lifted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.loop import REJECT_REASONS, Mute, Review
from api.db.models import Ticket
from api.services.errors import Conflict, Invalid, NotFound
from api.services.lifecycle import allowed_actions, record, transition
from api.services.rules import DispatchRules
from api.services.tickets import iso, scope_clauses

FALSE_POSITIVE = ("wrong_class", "not_a_problem", "privacy")
REASON_TEXT = {
    "wrong_class": "wrong class / 类别错误",
    "not_a_problem": "not a problem / 不是问题",
    "duplicate": "duplicate / 重复",
    "privacy": "privacy / 隐私",
}


def review_to_dict(r: Review | None) -> dict | None:
    if r is None:
        return None
    return {"verdict": r.verdict, "reason": r.reason, "correct_class": r.correct_class, "note": r.note,
            "reviewer": r.reviewer, "at": iso(r.at)}


def mute_to_dict(m: Mute, now: datetime) -> dict:
    return {"id": m.id, "camera_id": m.camera_id, "zone_id": m.zone_id, "issue_type": m.issue_type,
            "ticket_id": m.ticket_id, "reason": m.reason, "created_by": m.created_by, "created_at": iso(m.created_at),
            "until": iso(m.until), "lifted_at": iso(m.lifted_at), "lifted_by": m.lifted_by,
            "active": m.lifted_at is None and m.until > now, "suppressed": m.suppressed,
            "last_suppressed_at": iso(m.last_suppressed_at), "last_key": m.last_key}


def review_of(session: Session, ticket: Ticket) -> Review | None:
    return session.scalar(select(Review).where(Review.ticket_id == ticket.id))


def _save(session: Session, ticket: Ticket, actor: Principal, now: datetime, verdict: str, reason: str | None,
          note: str | None, correct_class: str | None) -> Review:
    row = review_of(session, ticket)
    if row is None:
        row = Review(ticket_id=ticket.id)
        session.add(row)
    row.verdict, row.reason, row.note, row.correct_class = verdict, reason, note, correct_class
    row.reviewer, row.at = actor.username, now
    return row


def confirm(session: Session, ticket: Ticket, actor: Principal, now: datetime, note: str | None = None) -> Review:
    """The detection is right. Any status but rejected/duplicate; the status does not change."""
    if ticket.status in ("rejected", "duplicate"):
        raise Conflict(f"ticket {ticket.number} is {ticket.status}: a rejected detection cannot be confirmed",
                       ticket.status, allowed_actions(ticket.status))
    row = _save(session, ticket, actor, now, "confirmed", None, note, None)
    record(session, ticket, actor, "review", now, ticket.status, ticket.status,
           note or "detection confirmed / 检测确认", {"verdict": "confirmed"})
    ticket.updated_at = now
    return row


def reject(session: Session, ticket: Ticket, actor: Principal, now: datetime, rules: DispatchRules, *,
           reason: str, note: str | None = None, duplicate_of: str | None = None, correct_class: str | None = None,
           mute: bool | None = None, mute_hours: float = 24.0) -> tuple[Review, Mute | None]:
    """Reject the detection: the ticket goes to rejected (or duplicate) and, for a false positive
    seen by a camera, its camera, zone and type are muted for ``mute_hours``."""
    if reason not in REJECT_REASONS:
        raise Invalid(("body", "reason"), f"reason must be one of {', '.join(REJECT_REASONS)}")
    if correct_class and reason != "wrong_class":
        raise Invalid(("body", "correct_class"), "correct_class goes with reason wrong_class only")
    text = REASON_TEXT[reason] + (f": {note}" if note else "")
    if reason == "duplicate":
        transition(session, ticket, "duplicate", actor, now, rules, note=text, duplicate_of=duplicate_of)
    else:
        transition(session, ticket, "reject", actor, now, rules, note=text, reason=text)
    row = _save(session, ticket, actor, now, "rejected", reason, note, correct_class)
    wants = reason in FALSE_POSITIVE if mute is None else mute
    if wants and reason == "duplicate":
        raise Invalid(("body", "mute"), "a duplicate is a real problem: it is not muted")
    muted = None
    if wants:
        if not ticket.camera_id:
            if mute:  # asked for explicitly
                raise Invalid(("body", "mute"), "only camera tickets can be muted (this one has no camera)")
        else:
            if not 0 < mute_hours <= 24 * 365:
                raise Invalid(("body", "mute_hours"), "mute_hours must be more than 0 and at most a year")
            muted = Mute(camera_id=ticket.camera_id, zone_id=ticket.zone_id, issue_type=ticket.issue_type,
                         ticket_id=ticket.id, reason=reason, created_by=actor.username, created_at=now,
                         until=now + timedelta(hours=mute_hours), suppressed=0)
            session.add(muted)
            session.flush()
            where = f"{ticket.camera_id}/{ticket.zone_id or '-'}"
            record(session, ticket, actor, "mute", now, ticket.status, ticket.status,
                   f"{ticket.issue_type} at {where} muted until {iso(muted.until)} / 静默至 {iso(muted.until)}",
                   {"mute_id": muted.id, "until": iso(muted.until)})
    return row, muted


def mutes_for(session: Session, ticket: Ticket) -> list[Mute]:
    """Mutes made from this ticket or covering its camera, zone and type, newest first."""
    place = _place(ticket.camera_id, ticket.zone_id, ticket.issue_type) if ticket.camera_id else None
    cond = Mute.ticket_id == ticket.id if place is None else (Mute.ticket_id == ticket.id) | place
    return list(session.scalars(select(Mute).where(cond).order_by(Mute.id.desc())))


def list_mutes(session: Session, now: datetime, *, active: bool | None = None, camera_id: str | None = None,
               limit: int = 100, principal: Principal | None = None) -> list[Mute]:
    """Mutes, newest first; a handler sees those made from its department's tickets, a grid officer
    its grid's (the caller's ticket scope)."""
    stmt = select(Mute)
    scope = scope_clauses(principal)
    if scope:
        stmt = stmt.join(Ticket, Ticket.id == Mute.ticket_id).where(*scope)
    if camera_id:
        stmt = stmt.where(Mute.camera_id == camera_id)
    if active is True:
        stmt = stmt.where(Mute.lifted_at.is_(None), Mute.until > now)
    elif active is False:
        stmt = stmt.where((Mute.lifted_at.is_not(None)) | (Mute.until <= now))
    return list(session.scalars(stmt.order_by(Mute.id.desc()).limit(limit)))


def lift(session: Session, mute_id: int, actor: Principal, now: datetime, note: str | None = None) -> Mute:
    mute = session.scalar(select(Mute).where(Mute.id == mute_id).with_for_update())
    if mute is None:
        raise NotFound(f"no mute {mute_id}")
    if mute.lifted_at is not None or mute.until <= now:
        raise Conflict(f"mute {mute_id} is no longer active (lifted or expired)")
    mute.lifted_at, mute.lifted_by = now, actor.username
    ticket = session.get(Ticket, mute.ticket_id)
    if ticket is not None:
        record(session, ticket, actor, "unmute", now, ticket.status, ticket.status,
               note or f"mute {mute_id} lifted / 解除静默", {"mute_id": mute_id})
    return mute


def _place(camera_id, zone_id, issue_type):
    """Mutes of one camera, zone (None: the whole camera) and issue type; values or bind parameters."""
    return and_(Mute.camera_id == camera_id, Mute.zone_id.is_not_distinct_from(zone_id), Mute.issue_type == issue_type)


# Asked before every new ticket: built once, values bound (no per-call statement building).
ACTIVE_MUTE = (select(Mute.id, Mute.ticket_id, Mute.last_key)
               .where(_place(bindparam("camera"), bindparam("zone"), bindparam("itype")), Mute.lifted_at.is_(None),
                      Mute.until > bindparam("now"))
               .order_by(Mute.until.desc()).limit(1))


def muted_incident(session: Session, inc, actor: Principal, now: datetime):
    """Called by the incident upsert before it creates a ticket. When an active mute covers the
    incident's camera, zone and type and its key has no ticket yet, the post is counted on the mute
    and answered with the muting (rejected) ticket, which is returned; else None."""
    if not inc.camera_id:
        return None
    mute = session.connection().execute(ACTIVE_MUTE, {"camera": inc.camera_id, "zone": inc.zone_id,
                                                      "itype": inc.issue_type, "now": now}).first()
    if mute is None:
        return None
    if session.scalar(select(Ticket.id).where(Ticket.dedup_key == inc.key)) is not None:
        return None  # the key already has a ticket: updates go on as usual
    first_post_of_key = mute.last_key != inc.key
    session.execute(update(Mute).where(Mute.id == mute.id).values(
        suppressed=Mute.suppressed + 1, last_suppressed_at=now, last_key=inc.key),
        execution_options={"synchronize_session": False})
    muting = session.get(Ticket, mute.ticket_id)
    if first_post_of_key:  # once per incident key: the ticket's history says what was held back
        record(session, muting, actor, "muted_incident", now, muting.status, muting.status,
               f"incident {inc.key} held back by mute {mute.id} / 静默中，未建工单",
               {"mute_id": mute.id, "key": inc.key, "seq": inc.seq})
    return muting


def reviewed(session: Session, since: datetime, principal: Principal | None = None, *, limit: int = 500,
             after_id: int = 0) -> list[tuple[Review, Ticket]]:
    """Reviews made at or after ``since`` (oldest first, keyset-paged by review id), with their tickets,
    within the caller's scope (a handler sees its department's, a grid officer its grid's)."""
    rows = session.execute(select(Review, Ticket).join(Ticket, Ticket.id == Review.ticket_id)
                           .where(Review.at >= since, Review.id > after_id, *scope_clauses(principal))
                           .order_by(Review.id).limit(limit)).all()
    return [(r, t) for r, t in rows]
