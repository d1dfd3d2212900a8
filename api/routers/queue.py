"""What the review console reads: the review queue, thumbnails of the evidence, camera health."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.auth import Principal, require
from api.responses import FastJSONResponse
from api.schemas.queue import CameraHealth, QueuePage
from api.schemas.tickets import Status
from api.services.camera_health import camera_health
from api.services.queue import QueueFilters, review_queue
from api.services.thumbnails import ThumbnailCache
from api.services.tickets import get_ticket
from api.state import ServiceState, db_session, state

router = APIRouter(prefix="/api/v1", tags=["review"])
DB = Annotated[Session, Depends(db_session)]
GS = Annotated[ServiceState, Depends(state)]


@router.get("/review-queue", response_model=QueuePage,
            summary="Detections waiting for review, newest first (keyset pages: pass `next` as `after`)")
def queue(session: DB, camera: str | None = Query(None, max_length=64),
          issue_type: str | None = Query(None, alias="type", max_length=64, description="issue type key"),
          grid: str | None = Query(None, max_length=64),
          status: list[Status] | None = Query(None, description="default: the open statuses; repeat for several"),
          reviewed: bool = Query(False, description="true: detections already reviewed instead"),
          after: str | None = Query(None, max_length=64, description="the `next` cursor of the previous page"),
          limit: int = Query(50, ge=1, le=200), principal: Principal = require("tickets.read")):
    page = review_queue(session, QueueFilters(camera_id=camera, issue_type=issue_type, grid_id=grid, status=status,
                                              reviewed=reviewed), principal, limit=limit, after=after)
    return FastJSONResponse(page)  # built in the documented shape already


@router.get("/tickets/{ref}/thumbnail", response_class=Response,
            summary="A small JPEG of the ticket's evidence: the frame, or the problem region zoomed (crop)",
            responses={200: {"content": {"image/jpeg": {}}, "description": "made once, then cached"},
                       404: {"description": "no such ticket, or it has no evidence image"}})
def thumbnail(ref: str, session: DB, gs: GS, kind: Literal["frame", "crop"] = Query("frame"),
              principal: Principal = require("tickets.read")) -> Response:
    ticket = get_ticket(session, ref, principal)
    cache = ThumbnailCache(gs.settings.cache_dir / "thumbnails", gs.store)
    path, key, box, stored_crop = cache.plan(ticket.evidence, ticket.detections, kind)
    session.close()  # no database work (nor lock, on SQLite) while the store answers
    jpeg = cache.get(path, key, kind, box, stored_crop)
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@router.get("/camera-health", response_model=list[CameraHealth],
            summary="Cameras: online or not, footage time of the last frame seen, open incidents and tickets")
def cameras_health(session: DB, gs: GS, principal: Principal = require("registry.read")) -> list[dict]:
    return camera_health(session, gs.clock.now(), gs.settings.redis_url)
