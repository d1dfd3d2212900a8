"""``POST /api/v1/detect``: upload images, get detections, and (unless ``create_tickets=false``)
the incidents and tickets they make."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from sqlalchemy import select

from api.auth import Principal, require
from api.db.models import Camera, Zone
from api.schemas.detect import DetectAnswer
from api.schemas.incidents import DetectionIn, EvidenceRef, IncidentIn, Location
from api.services.errors import Invalid
from api.services.evidence import decode_bgr, read_image, store_picture_evidence
from api.services.incidents import ingest_incident
from api.services.notify import commit
from api.services.registry import camera_min_scores, judged_zones
from api.services.uploads import incident_key, upload_incidents
from api.state import ServiceState
from gridsight.evidence import bilingual, header_text

router = APIRouter(prefix="/api/v1", tags=["detect"])
MAX_FILES = 8


@router.post("/detect", response_model=DetectAnswer,
             summary="Detect objects in uploaded images; make incidents and tickets",
             responses={413: {"description": "a file is over the byte or pixel limit"},
                        422: {"description": "not an image (content is sniffed), bad field"},
                        503: {"description": "no detector model could be loaded"}})
def detect(request: Request,
           files: list[UploadFile] = File(..., description=f"JPEG, PNG or WebP images (up to {MAX_FILES})"),
           camera_id: str | None = Form(None, max_length=64, description="camera the pictures come from "
                                        "(its location and zones apply)"),
           lat: float | None = Form(None, ge=-90, le=90),
           lon: float | None = Form(None, ge=-180, le=180),
           address: str | None = Form(None, max_length=500),
           create_tickets: bool = Form(True, description="false: detections only, nothing stored"),
           create_tickets_query: bool | None = Query(None, alias="create_tickets"),
           principal: Principal = require("detect")) -> dict:
    gs: ServiceState = request.app.state.gs
    if create_tickets_query is False:
        create_tickets = False
    if not 1 <= len(files) <= MAX_FILES:
        raise Invalid(("body", "files"), f"send 1 to {MAX_FILES} images")
    if (lat is None) != (lon is None):
        raise Invalid(("body", "lat" if lat is None else "lon"), "give both lat and lon, or neither")
    images = [read_image(f.file, f.filename or f"file{i}", "files", gs.settings.upload_max_bytes,
                         gs.settings.upload_max_pixels) for i, f in enumerate(files)]
    frames = [decode_bgr(im) for im in images]

    zones, min_scores = [], {}
    if camera_id:
        with gs.sessions() as session:
            camera = session.get(Camera, camera_id)
            if camera is None:
                raise Invalid(("body", "camera_id"), f"no camera {camera_id!r}")
            zones = judged_zones(list(session.scalars(select(Zone).where(Zone.camera_id == camera_id))))
            min_scores = camera_min_scores(camera)
    detector, results = gs.detect(frames)

    location = Location(lat=lat, lon=lon, address=address) if lat is not None else None
    out = []
    plans = []
    for image, frame, (dets, people) in zip(images, frames, results):
        findings = upload_incidents(dets, frame.shape, gs.rules.issue_types, zones, min_scores=min_scores,
                                    operating_points=gs.model_operating_points())
        incidents = [{"issue_type": f.rule.issue_type, "zone_id": f.zone_id, "score": round(f.score, 4),
                      "detections": dets[f.subjects].to_list()} for f in findings]
        out.append({"filename": image.name, "sha256": image.sha256, "width": image.width, "height": image.height,
                    "detections": dets.to_list(),
                    "incidents": [{"key": incident_key(image.sha256, i["issue_type"], i["zone_id"]),
                                   "issue_type": i["issue_type"], "zone_id": i["zone_id"], "score": i["score"]}
                                  for i in incidents],
                    "tickets": []})
        if create_tickets and incidents:
            plans.append((out[-1], image, frame, people, incidents))
    if plans:
        _make_tickets(gs, plans, camera_id, {z.id: z for z in zones}, location, principal)
    return {"detector": {"backend": getattr(detector, "backend", None), "imgsz": getattr(detector, "imgsz", None),
                         "classes": len(getattr(detector, "names", {}) or {})},
            "create_tickets": create_tickets, "images": out}


def _make_tickets(gs: ServiceState, plans: list, camera_id: str | None, zones: dict, location: Location | None,
                  principal: Principal) -> None:
    now = gs.clock.now()
    incidents: list[tuple[dict, IncidentIn]] = []
    for entry, image, frame, people, found in plans:  # blobs first: content-addressed, harmless if the DB fails
        for inc in found:
            itype = gs.rules.issue_type(inc["issue_type"])
            zone = zones.get(inc["zone_id"])
            title = header_text(bilingual(itype.name_en, itype.name_zh, gs.settings.language), camera_id,
                                inc["zone_id"], now)
            refs = store_picture_evidence(gs.store, gs.settings, image, frame, inc["detections"], people, title,
                                          zone.points(frame.shape).tolist() if zone else None,
                                          camera_id, now)
            incidents.append((entry, IncidentIn(
                key=incident_key(image.sha256, inc["issue_type"], inc["zone_id"]), seq=1, event="open",
                issue_type=inc["issue_type"], source="upload", camera_id=camera_id, zone_id=inc["zone_id"],
                first_seen=now, last_seen=now, score=inc["score"],
                detections=[DetectionIn(**d) for d in inc["detections"]], evidence=[EvidenceRef(**r) for r in refs],
                location=location)))
    with gs.sessions() as session:  # one transaction for every ticket of the request
        for entry, inc in incidents:
            r = ingest_incident(session, inc, principal, now, gs.rules, gs.grids)
            entry["tickets"].append({"ticket_id": r.ticket_id, "number": r.number, "status": r.status,
                                     "created": r.created})
        commit(session)

