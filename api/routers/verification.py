"""Verification of fixes: the pipeline's camera checks, "after" photos, before/after images."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal, check_duties, require
from api.routers.bodies import json_with_files
from api.db.loop import Verification
from api.db.models import Camera, Zone
from api.schemas.loop import (
    PendingCheck,
    PhotoVerdict,
    VerificationIn,
    VerificationOut,
    VerificationReportAnswer,
)
from api.services import verification as svc
from api.services.errors import Conflict, Invalid, NotFound
from api.services.evidence import decode_bgr, read_image, store_evidence, store_picture_evidence
from api.services.notify import commit
from gridsight.fields import Id
from api.services.registry import camera_min_scores, judged_zones
from api.services.tickets import get_ticket, iso, ticket_to_dict
from api.state import ServiceState, db_session, state
from gridsight.evidence import bilingual, header_text
from gridsight.issues import min_score

router = APIRouter(prefix="/api/v1", tags=["verification"])
DB = Annotated[Session, Depends(db_session)]
GS = Annotated[ServiceState, Depends(state)]
PARTS = {"evidence_annotated": "annotated", "evidence_raw": "raw"}
_SCHEMA = VerificationIn.model_json_schema(ref_template="#/components/schemas/{model}")
_SCHEMA.pop("$defs", None)  # DetectionIn: in the components already (the incident contract uses it)
_REPORT_DOC = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _SCHEMA},
    "multipart/form-data": {"schema": {"type": "object", "required": ["result"], "properties": {
        "result": {"type": "string", "description": "the VerificationIn object as JSON text"},
        "evidence_annotated": {"type": "string", "format": "binary"},
        "evidence_raw": {"type": "string", "format": "binary"}}}}}}}


@router.post("/tickets/{ref}/verification", response_model=VerificationReportAnswer, openapi_extra=_REPORT_DOC,
             summary="The pipeline reports what the camera saw after the resolve; the service reopens, "
                     "verifies or notes why it could not",
             responses={200: {"description": "`applied`: false when the ticket is no longer at that resolve"},
                        404: {"description": "no such ticket"}, 422: {"description": "bad report"}})
async def report(ref: str, request: Request, principal: Principal = require("incidents.write")) -> dict:
    gs: ServiceState = request.app.state.gs
    body, uploads = await json_with_files(request, VerificationIn, "result", tuple(PARTS))
    return await run_in_threadpool(_apply_report, gs, ref, body, uploads, principal)


def _apply_report(gs: ServiceState, ref: str, body: VerificationIn, uploads: dict, principal: Principal) -> dict:
    after, after_bytes = {}, None
    for part, upload in uploads.items():  # blobs first: content-addressed, harmless if the transaction fails
        image = read_image(upload.file, upload.filename or part, part, gs.settings.upload_max_bytes,
                           gs.settings.upload_max_pixels)
        after[PARTS[part]] = store_evidence(gs.store, image.data, image.content_type, PARTS[part])
        if PARTS[part] == "annotated" or after_bytes is None:
            after_bytes = image.data
    with gs.sessions() as session:
        ticket = get_ticket(session, ref, principal, for_update=True)
        if ticket.camera_id != body.camera_id:
            raise Invalid(("body", "camera_id"), f"ticket {ticket.number} is from camera {ticket.camera_id}, "
                                                 f"not {body.camera_id}")
        try:
            svc.require_resolved(ticket, body.resolved_at)
        except Conflict as exc:  # a late or repeated report: nothing to do, and nothing is an error
            return {"applied": False, "reason": exc.detail, "verification": None, "ticket": ticket_to_dict(ticket)}
        row = svc.apply(session, ticket, method="camera", outcome=body.outcome, actor=f"camera:{body.camera_id}",
                        actor_name=f"camera:{body.camera_id}", now=gs.clock.now(), rules=gs.rules, store=gs.store,
                        after=after, after_bytes=after_bytes, detections=[d.model_dump() for d in body.detections],
                        score=body.score, frames=body.frames, present_frames=body.present_frames,
                        window=(body.window_start, body.window_end), reason=body.reason)
        commit(session)
        return {"applied": True, "reason": None, "verification": svc.verification_to_dict(row),
                "ticket": ticket_to_dict(ticket)}


@router.post("/tickets/{ref}/verify-photo", response_model=PhotoVerdict,
             summary="Upload an \"after\" photo: detection decides, the ticket is verified (gone) or reopened "
                     "(still there)",
             responses={409: {"description": "the ticket is not resolved"}, 413: {"description": "photo too large"},
                        422: {"description": "not an image"}, 503: {"description": "no detector model"}})
def verify_photo(ref: str, request: Request, photo: UploadFile = File(..., description="JPEG, PNG or WebP"),
                 note: str | None = Form(None, max_length=2000),
                 principal: Principal = require("ticket.feedback")) -> dict:
    gs: ServiceState = request.app.state.gs
    check_duties(principal, gs.settings)
    with gs.sessions() as session:  # refuse early, before running the detector
        ticket = get_ticket(session, ref, principal)
        svc.require_resolved(ticket)
        rule = gs.rules.issue_type(ticket.issue_type)
        camera = session.get(Camera, ticket.camera_id) if ticket.camera_id else None
        zones = judged_zones(list(session.scalars(select(Zone).where(Zone.camera_id == camera.id)))) if camera else []
        min_scores = camera_min_scores(camera)
    if rule is None or not rule.classes:
        raise Invalid(("path", "ref"), f"issue type {ticket.issue_type} has no detector classes to judge a photo by")
    image = read_image(photo.file, photo.filename or "photo", "photo", gs.settings.upload_max_bytes,
                       gs.settings.upload_max_pixels)
    frame = decode_bgr(image, "photo")
    _, [(dets, people)] = gs.detect([frame])
    finding = svc.judge_photo(dets, frame.shape, rule, zones, ticket.zone_id, min_scores=min_scores,
                              operating_points=gs.model_operating_points())
    found, hits = dets.to_list(), dets[finding.subjects].to_list()
    outcome = "still_present" if finding.present else "gone"
    now = gs.clock.now()
    title = header_text(bilingual(rule.name_en, rule.name_zh, gs.settings.language), ticket.camera_id,
                        ticket.zone_id, now)
    polygon = finding.place.points(frame.shape).tolist() if finding.zone_id else None
    after = {r["kind"]: r for r in store_picture_evidence(gs.store, gs.settings, image, frame, hits, people, title,
                                                          polygon, ticket.camera_id, now)}
    drawn = gs.store.get(after["annotated"]["object_key"])
    with gs.sessions() as session:
        ticket = get_ticket(session, ref, principal, for_update=True)
        svc.require_resolved(ticket)
        row = svc.apply(session, ticket, method="photo", outcome=outcome, actor=principal,
                        actor_name=principal.username, now=gs.clock.now(), rules=gs.rules, store=gs.store,
                        after=after, after_bytes=drawn, detections=hits,
                        score=round(finding.score, 4) if hits else None, reason=note)
        commit(session)
        thresholds = {c: min_score(rule, c, min_scores, gs.model_operating_points()) for c in sorted(rule.classes)}
        return {"outcome": outcome, "detections": found, "counted": hits, "min_score": min(thresholds.values()),
                "min_scores": thresholds, "zone_id": finding.zone_id, "coverage": round(finding.coverage, 4),
                "classes": sorted(rule.classes), "verification": svc.verification_to_dict(row),
                "ticket": ticket_to_dict(ticket)}


@router.get("/verifications/pending", response_model=list[PendingCheck],
            summary="Resolved camera tickets waiting for a camera check (the pipeline "
                                              "polls this; MQTT status events only wake it sooner)")
def pending(session: DB, gs: GS, camera: list[str] | None = Query(None, description="only these cameras (repeat)"),
            limit: int = Query(100, ge=1, le=1000), principal: Principal = require("incidents.write")) -> list[dict]:
    return [{"ticket_id": t.id, "number": t.number, "issue_type": t.issue_type, "camera_id": t.camera_id,
             "zone_id": t.zone_id, "resolved_at": iso(t.resolved_at)}
            for t in svc.pending_camera_checks(session, camera, limit, now=gs.clock.now())]


@router.get("/tickets/{ref}/verifications", response_model=list[VerificationOut],
            summary="Every check of the ticket's fixes, with before/after images")
def verifications(ref: str, session: DB, principal: Principal = require("tickets.read")) -> list[dict]:
    ticket = get_ticket(session, ref, principal)
    return [svc.verification_to_dict(v) for v in svc.verifications_of(session, ticket)]


@router.get("/tickets/{ref}/verifications/{verification_id}/image", response_class=Response,
            summary="A verification image: before, after_raw, after_annotated, after_crop or before_after (side by side)",
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}}, "description": "the image"},
                       404: {"description": "no such ticket, check or image"}})
def image(ref: str, verification_id: Id, session: DB, gs: GS,
          kind: Literal["before", "after_raw", "after_annotated", "after_crop", "before_after"] = "before_after",
          principal: Principal = require("tickets.read")) -> Response:
    ticket = get_ticket(session, ref, principal)
    v = session.get(Verification, verification_id)
    if v is None or v.ticket_id != ticket.id:
        raise NotFound(f"ticket {ticket.number} has no verification {verification_id}")
    ref_ = next((i for i in v.images or [] if i.get("kind") == kind), None)
    if ref_ is None:
        raise NotFound(f"verification {verification_id} has no {kind} image")
    session.close()
    data = gs.store.get(ref_["object_key"])
    return Response(data, media_type=ref_.get("content_type") or "image/jpeg",
                    headers={"Cache-Control": "private, max-age=3600"})
