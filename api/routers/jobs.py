"""Archive jobs: submit footage for distributed reprocessing, follow it, cancel it.

The API only records the job in Redis and queues its planning task by name; ``gridsight worker``
processes do the rest, so an API restart mid-job loses nothing. Footage is a server path under
``GRIDSIGHT_JOBS_ALLOWED_ROOTS`` (checked after resolving symlinks and ``..``) or an object-store
key, handed to workers as a presigned URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.auth import Principal, require
from api.schemas.jobs import JobIn
from api.services import jobs as svc
from api.state import ServiceState, state

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
GS = Annotated[ServiceState, Depends(state)]


@router.post("", status_code=201, summary="Submit archived footage for reprocessing",
             responses={403: {"description": "a path outside the allowed roots"},
                        404: {"description": "an object key not in the object store"},
                        503: {"description": "the job queue (Redis) is unreachable"}})
def submit(body: JobIn, gs: GS, principal: Principal = require("jobs.write")) -> dict:
    return svc.submit(body, principal, gs.store, list(gs.settings.jobs_allowed_roots))


@router.get("", summary="List jobs, newest first")
def list_jobs(limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0),
              principal: Principal = require("jobs.read")) -> list[dict]:
    return [svc.job_to_dict(j) for j in svc.job_store().list(limit, offset)]


@router.get("/{job_id}", summary="A job's status and progress (segments, frames, incidents, ETA)")
def get_job(job_id: str, principal: Principal = require("jobs.read")) -> dict:
    return svc.job_to_dict(svc.get_job(svc.job_store(), job_id))


@router.post("/{job_id}/cancel", summary="Cancel a job: no further segment starts",
             responses={409: {"description": "the job already ended"}})
def cancel(job_id: str, principal: Principal = require("jobs.write")) -> dict:
    return svc.job_to_dict(svc.cancel(svc.job_store(), job_id))
