"""Operator review: confirm or reject a ticket's detection; mutes; reviewed evidence for training."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.schemas.loop import LiftIn, MuteOut, ReviewAnswer, ReviewedPage, ReviewIn, TicketReview
from gridsight.fields import Count, Id, Instant
from api.services import review as svc
from api.services.notify import commit
from api.services.tickets import evidence_url, get_ticket, ticket_to_dict
from api.state import ServiceState, db_session, state

router = APIRouter(prefix="/api/v1", tags=["review"])
DB = Annotated[Session, Depends(db_session)]
GS = Annotated[ServiceState, Depends(state)]
_RESPONSES = {409: {"description": "not allowed from the ticket's status; `allowed` lists what is"},
              404: {"description": "no such ticket or mute"}}


@router.post("/tickets/{ref}/review", response_model=ReviewAnswer, responses=_RESPONSES,
             summary="Confirm or reject the ticket's detection (reject: reason; false positives mute the place)")
def review(ref: str, body: ReviewIn, session: DB, gs: GS, principal: Principal = require("ticket.reject")) -> dict:
    ticket = get_ticket(session, ref, principal, for_update=True)
    now = gs.clock.now()
    muted = None
    if body.verdict == "confirmed":
        row = svc.confirm(session, ticket, principal, now, body.note)
    else:
        row, muted = svc.reject(session, ticket, principal, now, gs.rules, reason=body.reason, note=body.note,
                                duplicate_of=body.duplicate_of, correct_class=body.correct_class, mute=body.mute,
                                mute_hours=body.mute_hours or gs.settings.mute_hours)
    commit(session)
    return {"ticket": ticket_to_dict(ticket, gs.link(principal)), "review": svc.review_to_dict(row),
            "mute": None if muted is None else svc.mute_to_dict(muted, now)}


@router.get("/tickets/{ref}/review", response_model=TicketReview, responses=_RESPONSES,
            summary="The ticket's review and the mutes made from it or covering its camera, zone and type")
def get_review(ref: str, session: DB, gs: GS, principal: Principal = require("tickets.read")) -> dict:
    ticket = get_ticket(session, ref, principal)
    now = gs.clock.now()
    mutes = [svc.mute_to_dict(m, now) for m in svc.mutes_for(session, ticket)]
    return {"ticket_id": ticket.id, "number": ticket.number, "review": svc.review_to_dict(svc.review_of(session, ticket)),
            "mutes": mutes, "muted": any(m["active"] for m in mutes)}


@router.get("/mutes", response_model=list[MuteOut], summary="Mutes (active, expired or lifted), newest first")
def mutes(session: DB, gs: GS, active: bool | None = Query(None, description="true: in force now"),
          camera: str | None = Query(None, max_length=64), limit: int = Query(100, ge=1, le=1000),
          principal: Principal = require("tickets.read")) -> list[dict]:
    now = gs.clock.now()
    return [svc.mute_to_dict(m, now) for m in svc.list_mutes(session, now, active=active, camera_id=camera,
                                                              limit=limit, principal=principal)]


@router.post("/mutes/{mute_id}/lift", response_model=MuteOut, responses=_RESPONSES,
             summary="Lift a mute: new incidents at that camera, zone and type make tickets again")
def lift(mute_id: Id, session: DB, gs: GS, body: LiftIn | None = None,
         principal: Principal = require("ticket.reject")) -> dict:
    now = gs.clock.now()
    mute = svc.lift(session, mute_id, principal, now, (body or LiftIn()).note)
    commit(session)
    return svc.mute_to_dict(mute, now)


@router.get("/reviews", response_model=ReviewedPage,
            summary="Reviewed detections since a time, oldest first (what `gridsight dataset export` "
                                "reads): verdict, reason, detections and the raw evidence frame")
def reviews(session: DB, since: Annotated[Instant, Query(description="reviews made at or after (ISO 8601)")],
            after_id: Annotated[Count, Query(description="keyset paging: the last `review_id` seen")] = 0,
            limit: int = Query(500, ge=1, le=5000), principal: Principal = require("tickets.read")) -> dict:
    rows = svc.reviewed(session, since, principal, limit=limit, after_id=after_id)
    items = []
    for r, t in rows:
        raw = next((e for e in t.evidence or [] if e.get("kind") == "raw"), None)
        items.append({
            "review_id": r.id, "ticket_id": t.id, "number": t.number, "verdict": r.verdict, "reason": r.reason,
            "correct_class": r.correct_class, "reviewed_at": svc.iso(r.at), "reviewer": r.reviewer,
            "issue_type": t.issue_type, "source": t.source, "camera_id": t.camera_id, "zone_id": t.zone_id,
            "detected_at": svc.iso(t.detected_at), "detections": t.detections or [],
            "raw": None if raw is None else {**raw, "url": evidence_url(t.id, "raw")},
        })
    return {"items": items, "next_after_id": rows[-1][0].id if len(rows) == limit else None}
