"""Archive jobs: submit footage for distributed reprocessing, follow it, cancel it.

The API only records the job in Redis and queues its planning task; ``gridsight worker``
processes do the rest (:mod:`pipeline.distributed`), so an API restart mid-job loses nothing.
Footage is a server path under ``GRIDSIGHT_JOBS_ALLOWED_ROOTS`` (checked after resolving
symlinks and ``..``) or an object-store key, handed to workers as a presigned URL.
The router uses the job store's Redis schema and task names, never the stream code.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, model_validator

from api.auth import Principal, current_principal

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
WRITERS = frozenset({"ingest", "operator", "admin"})
READERS = WRITERS | {"viewer", "dispatcher"}
URL_LIFETIME = timedelta(days=7)


def _role(allowed: frozenset[str]):
    def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(403, f"role {principal.role} may not do this; allowed roles: "
                                     f"{', '.join(sorted(allowed))}")
        return principal

    return Depends(dependency)


class Footage(BaseModel):
    path: str | None = Field(None, description="a file on the server, under the allowed roots")
    object_key: str | None = Field(None, description="footage already in the object store")

    @model_validator(mode="after")
    def one_source(self):
        if bool(self.path) == bool(self.object_key):
            raise ValueError("give exactly one of path or object_key")
        return self


class CameraInline(BaseModel):
    detect_fps: float = Field(2.0, gt=0, le=60)
    zones: list[dict] = Field(default_factory=list, description="{id, kind, polygon, normalized} as in cameras.yaml")


class JobOptions(BaseModel):
    segment_s: float | None = Field(None, gt=0, description="segment length (default from settings)")
    warmup_s: float | None = Field(None, ge=0, description="warm-up before each segment")
    gate: bool = Field(False, description="motion gating: faster, but keys may shift at segment cuts")
    camera: CameraInline | None = Field(None, description="zones for footage of a camera not in cameras.yaml")


class JobIn(BaseModel):
    camera_id: str = Field(min_length=1, max_length=64)
    footage: list[Footage] = Field(min_length=1, max_length=10000, description="played back to back")
    start_time: AwareDatetime = Field(description="footage time of the first frame")
    options: JobOptions = Field(default_factory=JobOptions)


def _store():
    import redis

    from pipeline.distributed.jobs import JobStore

    try:
        store = JobStore()
        store.r.ping()
    except redis.RedisError as exc:
        logging.getLogger("gridsight.api").warning("job queue unreachable: %s", exc)
        raise HTTPException(503, "the job queue is unreachable; the server log says why") from exc
    return store


def _allowed(path: str, roots: list[Path]) -> Path:
    p = Path(path)
    if not p.is_absolute():
        raise HTTPException(422, f"footage path {path!r} must be absolute")
    real = p.resolve()
    if not any(real.is_relative_to(r.resolve()) for r in roots):
        raise HTTPException(403, f"footage path {path!r} is outside the allowed roots "
                                 "(GRIDSIGHT_JOBS_ALLOWED_ROOTS)")
    if not real.is_file():
        raise HTTPException(422, f"footage path {path!r}: no such file")
    return real


@router.post("", status_code=201, summary="Submit archived footage for reprocessing")
def submit(body: JobIn, request: Request, principal: Principal = _role(WRITERS)) -> dict:
    gs = request.app.state.gs
    files = []
    for f in body.footage:
        if f.path:
            real = _allowed(f.path, list(gs.settings.jobs_allowed_roots))
            files.append({"path": str(real), "name": real.name})
        else:
            if not gs.store.exists(f.object_key):
                raise HTTPException(404, f"object {f.object_key!r} not found in the object store")
            files.append({"url": gs.store.presigned_url(f.object_key, URL_LIFETIME),
                          "name": Path(f.object_key).name})
    options = body.options.model_dump(exclude_none=True)
    options["submitted_by"] = principal.username
    store = _store()
    from pipeline.distributed.app import app as celery

    job_id = store.create(body.camera_id, files, body.start_time.isoformat(), options)
    created = _view(store.get(job_id))  # the job as recorded: a worker may start planning at once
    celery.send_task("gridsight.plan_job", args=[job_id])
    return created


def _view(job) -> dict:
    d = job.to_dict()
    d["files"] = [{"name": f.get("name"), "path": f.get("path")} for f in d["files"]]  # URLs carry signatures
    for k in ("created", "started", "finished"):
        d[k] = datetime.fromtimestamp(d[k], timezone.utc).isoformat() if d.get(k) else None
    return d


@router.get("", summary="List jobs, newest first")
def list_jobs(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
              principal: Principal = _role(READERS)) -> list[dict]:
    return [_view(j) for j in _store().list(limit, offset)]


@router.get("/{job_id}", summary="A job's status and progress (segments, frames, incidents, ETA)")
def get_job(job_id: str, principal: Principal = _role(READERS)) -> dict:
    job = _store().get(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id!r} not found")
    return _view(job)


@router.post("/{job_id}/cancel", summary="Cancel a job: no further segment starts")
def cancel(job_id: str, principal: Principal = _role(WRITERS)) -> dict:
    store = _store()
    job = store.get(job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id!r} not found")
    if not store.cancel(job_id):
        raise HTTPException(409, f"job {job_id} is already {store.status(job_id)}; only queued, planning or "
                                 "running jobs can be cancelled")
    return _view(store.get(job_id))
