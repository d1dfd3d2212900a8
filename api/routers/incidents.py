"""``POST /api/v1/incidents``: the pipeline's door (docs/incident-contract.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from api.auth import Principal, require
from api.routers.bodies import json_with_files
from api.schemas.incidents import EvidenceRef, IncidentAnswer, IncidentIn
from api.services.evidence import crop_of, object_prefix, read_image, store_evidence
from api.services.incidents import ingest_incident, known_issue_type
from api.services.notify import commit
from api.state import ServiceState

router = APIRouter(prefix="/api/v1", tags=["incidents"])
EVIDENCE_PARTS = {"evidence_annotated": "annotated", "evidence_raw": "raw"}

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/IncidentIn"}},
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["incident"],
                "properties": {
                    "incident": {"type": "string", "description": "the incident object as JSON text"},
                    "evidence_annotated": {"type": "string", "format": "binary"},
                    "evidence_raw": {"type": "string", "format": "binary"},
                }}},
        },
    }
}


@router.post("/incidents", response_model=IncidentAnswer, status_code=201, openapi_extra=_BODY_DOC,
             summary="Create or update the ticket of an incident (idempotent by key)",
             responses={200: {"model": IncidentAnswer, "description": "an existing ticket (updated or unchanged)"},
                        201: {"description": "the call created the ticket"}})
async def post_incident(request: Request, principal: Principal = require("incidents.write")) -> JSONResponse:
    gs: ServiceState = request.app.state.gs
    inc, uploads = await json_with_files(request, IncidentIn, "incident", tuple(EVIDENCE_PARTS))
    result = await run_in_threadpool(_ingest, gs, inc, uploads, principal)
    return JSONResponse(IncidentAnswer(ticket_id=result.ticket_id, number=result.number, status=result.status,
                                       created=result.created).model_dump(),
                        status_code=201 if result.created else 200)


def _ingest(gs: ServiceState, inc: IncidentIn, uploads: dict[str, UploadFile], principal: Principal):
    known_issue_type(gs.rules, inc)  # a bad body stores nothing, not even a blob
    if uploads:
        # Blobs first (content-addressed, harmless if the transaction then fails), then one transaction.
        refs = {r.kind: r for r in inc.evidence}
        when = inc.first_seen or gs.clock.now()
        for part, upload in uploads.items():
            kind = EVIDENCE_PARTS[part]
            image = read_image(upload.file, upload.filename or part, part, gs.settings.upload_max_bytes,
                               gs.settings.upload_max_pixels)
            refs[kind] = EvidenceRef(**store_evidence(gs.store, image.data, image.content_type, kind,
                                                      object_prefix(inc.camera_id, when, kind)))
            if kind == "raw":  # the sender blurred it; the zoomed crop of the problem is made here
                crop = crop_of(image.data, [d.model_dump() for d in inc.detections], gs.settings.language)
                if crop is not None:
                    refs["crop"] = EvidenceRef(**store_evidence(gs.store, crop, "image/jpeg", "crop",
                                                                object_prefix(inc.camera_id, when, "crop")))
        inc = inc.model_copy(update={"evidence": list(refs.values())})
    with gs.ingest_sessions() as session:
        result = ingest_incident(session, inc, principal, gs.clock.now(), gs.rules, gs.grids)
        commit(session)
    return result
