"""Tickets: list, get, history, lifecycle transitions, feedback, evidence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.responses import FastJSONResponse
from api.schemas.tickets import (
    DispatchIn,
    DuplicateIn,
    EventOut,
    EvidenceUrl,
    FeedbackOut,
    NoteIn,
    RejectIn,
    TRANSITION_NOTES,
    TicketOut,
    TicketPage,
    ticket_filters,
)
from api.services.errors import Forbidden, Invalid, NotFound
from api.services.evidence import read_image, store_evidence
from api.services.lifecycle import add_feedback, check_feedback, feedback_of, history, transition
from api.services.notify import commit
from api.services.tickets import SORT_CHOICES, TicketFilters, get_ticket, iso, list_tickets, ticket_to_dict
from api.state import ServiceState, db_session, state

router = APIRouter(prefix="/api/v1/tickets")
READ, LIFECYCLE = ["tickets"], ["lifecycle"]  # reading vs moving a ticket on
MAX_PHOTOS = 6
Sort = Literal[SORT_CHOICES]  # type: ignore[valid-type]
DB = Annotated[Session, Depends(db_session)]
GS = Annotated[ServiceState, Depends(state)]


@router.get("", tags=READ, response_model=TicketPage, summary="List tickets (filters, sort, pagination)")
def list_(session: DB, filters: TicketFilters = Depends(ticket_filters),
          sort: Sort = Query("-created_at", description="field, `-` for descending"),
          limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=1_000_000),
          principal: Principal = require("tickets.read")) -> JSONResponse:
    tickets, total, exact = list_tickets(session, filters, principal, sort=sort, limit=limit, offset=offset)
    # built by ticket_to_dict already in the documented shape: skip re-validating every field
    return FastJSONResponse({"items": [ticket_to_dict(t) for t in tickets], "total": total, "total_exact": exact,
                             "limit": limit, "offset": offset})


@router.get("/{ref}", tags=READ, response_model=TicketOut, summary="One ticket, by id or number (GS-2026-000123)")
def get(ref: str, session: DB, principal: Principal = require("tickets.read")) -> dict:
    return ticket_to_dict(get_ticket(session, ref, principal))


@router.get("/{ref}/history", tags=READ, response_model=list[EventOut],
            summary="Every change of the ticket, oldest first")
def get_history(ref: str, session: DB, principal: Principal = require("tickets.read")) -> list[dict]:
    ticket = get_ticket(session, ref, principal)
    return [{"id": e.id, "at": iso(e.at), "actor": e.actor, "action": e.action, "from_status": e.from_status,
             "to_status": e.to_status, "note": e.note, "data": e.data} for e in history(session, ticket)]


@router.get("/{ref}/feedback", tags=READ, response_model=list[FeedbackOut], summary="Notes, photos and ratings")
def get_feedback(ref: str, session: DB, principal: Principal = require("tickets.read")) -> list[dict]:
    ticket = get_ticket(session, ref, principal)
    return [{"id": f.id, "at": iso(f.at), "author": f.author, "role": f.role, "note": f.note, "rating": f.rating,
             "photos": f.photos or []} for f in feedback_of(session, ticket)]


def _act(gs: ServiceState, session: Session, ref: str, action: str, principal: Principal, **fields) -> dict:
    ticket = get_ticket(session, ref, principal, for_update=True)
    transition(session, ticket, action, principal, gs.clock.now(), gs.rules, **fields)
    commit(session)
    return ticket_to_dict(ticket)


_RESPONSES = {409: {"description": "not allowed from the ticket's status; `allowed` lists what is"},
              403: {"description": "role or scope (department, grid) does not allow it"},
              404: {"description": "no such ticket"}}


@router.post("/{ref}/dispatch", response_model=TicketOut, responses=_RESPONSES, tags=LIFECYCLE,
             summary="Dispatch: new | reopened -> dispatched (department, optional assignee)")
def dispatch(ref: str, session: DB, gs: GS, body: DispatchIn | None = None,
             principal: Principal = require("ticket.dispatch")) -> dict:
    body = body or DispatchIn()
    return _act(gs, session, ref, "dispatch", principal, note=body.note, department_id=body.department_id,
                assignee_id=body.assignee_id)


def _simple(action: str, summary: str):
    def endpoint(ref: str, session: DB, gs: GS, body: NoteIn | None = None,
                 principal: Principal = require(f"ticket.{action}")) -> dict:
        return _act(gs, session, ref, action, principal, note=(body or NoteIn()).note)

    endpoint.__name__ = action
    example = {"requestBody": {"content": {"application/json": {"example": {"note": TRANSITION_NOTES[action]}}}}}
    router.post(f"/{{ref}}/{action}", response_model=TicketOut, responses=_RESPONSES, summary=summary,
                tags=LIFECYCLE, openapi_extra=example)(endpoint)


_simple("start", "Start work: dispatched -> in_progress")
_simple("resolve", "Resolve: in_progress -> resolved")
_simple("verify", "Verify: resolved -> verified (the fix was checked)")
_simple("close", "Close: verified -> closed")
_simple("reopen", "Reopen: resolved -> reopened (still there)")


@router.post("/{ref}/reject", response_model=TicketOut, responses=_RESPONSES, tags=LIFECYCLE,
             summary="Reject: open -> rejected (false positive; reason required; see also review)")
def reject(ref: str, body: RejectIn, session: DB, gs: GS, principal: Principal = require("ticket.reject")) -> dict:
    return _act(gs, session, ref, "reject", principal, note=body.note, reason=body.reason)


@router.post("/{ref}/duplicate", response_model=TicketOut, responses=_RESPONSES, tags=LIFECYCLE,
             summary="Mark duplicate: open -> duplicate (link to the original)")
def duplicate(ref: str, body: DuplicateIn, session: DB, gs: GS,
              principal: Principal = require("ticket.duplicate")) -> dict:
    return _act(gs, session, ref, "duplicate", principal, note=body.note, duplicate_of=body.duplicate_of)


@router.post("/{ref}/feedback", tags=READ, response_model=FeedbackOut, status_code=201, responses=_RESPONSES,
             summary="A note with photos (handlers), or a 1-5 rating of the handling (reporters, supervisors)")
def feedback(ref: str, session: DB, gs: GS, note: str | None = Form(None, max_length=4000),
             rating: int | None = Form(None, ge=1, le=5),
             photos: list[UploadFile] | None = File(None, description=f"up to {MAX_PHOTOS} images"),
             principal: Principal = require("ticket.feedback")) -> dict:
    ticket = get_ticket(session, ref, principal, for_update=True)
    photos = [p for p in (photos or []) if p.filename or p.size]
    if len(photos) > MAX_PHOTOS:
        raise Invalid(("body", "photos"), f"at most {MAX_PHOTOS} photos")
    check_feedback(ticket, principal, note, rating, len(photos))  # before any photo is stored
    keys = []
    for p in photos:
        image = read_image(p.file, p.filename or "photo", "photos", gs.settings.upload_max_bytes,
                           gs.settings.upload_max_pixels)
        keys.append(store_evidence(gs.store, image.data, image.content_type, "photo")["object_key"])
    fb = add_feedback(session, ticket, principal, gs.clock.now(), note=note, rating=rating, photos=keys)
    commit(session)
    return {"id": fb.id, "at": iso(fb.at), "author": fb.author, "role": fb.role, "note": fb.note,
            "rating": fb.rating, "photos": fb.photos}


def _evidence_key(session: Session, ticket, kind: str | None, key: str | None,
                  principal: Principal) -> tuple[str, str]:
    refs = ticket.evidence or []
    if key:
        allowed = {e["object_key"]: e.get("content_type") for e in refs}
        for fb in feedback_of(session, ticket):
            allowed.update({k: None for k in fb.photos or []})
        if key not in allowed:
            raise NotFound(f"ticket {ticket.number} has no evidence or photo {key}")
        if any(e["object_key"] == key and e.get("kind") == "original" for e in refs):
            _may_see_original(principal)
        return key, allowed[key] or ""
    if kind == "original":
        _may_see_original(principal)
    wanted = [kind] if kind else ["annotated", "raw"]
    for k in wanted:
        for e in refs:
            if e.get("kind") == k:
                return e["object_key"], e.get("content_type") or ""
    raise NotFound(f"ticket {ticket.number} has no {kind or 'evidence'} image")


def _may_see_original(principal: Principal) -> None:
    if not principal.may("evidence.original"):
        raise Forbidden(f"role {principal.role} may not see unblurred originals (evidence.original)")


EvidenceKind = Literal["annotated", "raw", "crop", "original"]
KIND_DOC = ("annotated (default), raw (people blurred), crop (the zoomed problem region) or original (an "
            "upload's unblurred picture: dispatchers and admins only, kept only when the setting says so)")


@router.get("/{ref}/evidence", tags=READ, summary="The evidence image itself (annotated by default)",
            response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "the image"},
                       404: {"description": "no such ticket or no such evidence"}})
def evidence(ref: str, session: DB, gs: GS, kind: EvidenceKind | None = Query(None, description=KIND_DOC),
             key: str | None = Query(None, max_length=200, description="a specific object (evidence or photo)"),
             principal: Principal = require("tickets.read")) -> Response:
    ticket = get_ticket(session, ref, principal)
    object_key, ctype = _evidence_key(session, ticket, kind, key, principal)
    session.close()  # no database work while the store answers
    data = gs.store.get(object_key)
    return Response(data, media_type=ctype or gs.store.content_type(object_key),
                    headers={"Cache-Control": "private, max-age=3600"})


@router.get("/{ref}/evidence/url", tags=READ, response_model=EvidenceUrl,
            summary="A presigned, expiring URL of the evidence")
def evidence_url(ref: str, session: DB, gs: GS, kind: EvidenceKind | None = Query(None, description=KIND_DOC),
                 key: str | None = Query(None, max_length=200),
                 expires_s: int = Query(3600, ge=1, le=7 * 86400),
                 principal: Principal = require("tickets.read")) -> dict:
    ticket = get_ticket(session, ref, principal)
    object_key, ctype = _evidence_key(session, ticket, kind, key, principal)
    if not gs.store.exists(object_key):
        raise NotFound(f"evidence {object_key} is not in the object store")
    url = gs.store.presigned_url(object_key, timedelta(seconds=expires_s))
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=expires_s)  # the store signs with wall time
    return {"url": url, "expires_at": iso(expires_at),
            "content_type": ctype or gs.store.content_type(object_key)}
