"""Archive jobs as the API sees them: record a job in the shared job store, queue its planning
by task name, read and cancel it. The work itself is done by ``gridsight worker`` processes; this
module knows only the schema they share (:mod:`gridsight.jobs`, :mod:`gridsight.queue`)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from api.auth import Principal
from api.schemas.jobs import JobIn
from api.services.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from gridsight.jobs import JobStore, JobView
from gridsight.queue import PLAN_JOB, send
from gridsight.times import iso

URL_LIFETIME = timedelta(days=7)


def job_store() -> JobStore:
    """The job store, reachable now (503 otherwise)."""
    import redis

    try:
        store = JobStore()
        store.r.ping()
    except redis.RedisError as exc:  # the address and error text go to the log, never to the client
        logging.getLogger("gridsight.api").warning("job queue unreachable: %s", exc)
        raise Unavailable("the job queue is unreachable; the server log says why") from exc
    return store


def allowed_path(path: str, roots: list[Path], loc: tuple) -> Path:
    """``path`` resolved (symlinks, ``..``), when it is a file under one of ``roots``."""
    p = Path(path)
    if not p.is_absolute():
        raise Invalid(loc, f"footage path {path!r} must be absolute")
    real = p.resolve()
    if not any(real.is_relative_to(r.resolve()) for r in roots):
        raise Forbidden(f"footage path {path!r} is outside the allowed roots (GRIDSIGHT_JOBS_ALLOWED_ROOTS)")
    if not real.is_file():
        raise Invalid(loc, f"footage path {path!r}: no such file")
    return real


def submit(body: JobIn, principal: Principal, object_store, roots: list[Path]) -> dict:
    """Record the job and queue its planning; returns the job as recorded."""
    files = []
    for i, f in enumerate(body.footage):
        if f.path:
            real = allowed_path(f.path, roots, ("body", "footage", i, "path"))
            files.append({"path": str(real), "name": real.name})
        else:
            if not object_store.exists(f.object_key):
                raise NotFound(f"object {f.object_key!r} not found in the object store")
            files.append({"url": object_store.presigned_url(f.object_key, URL_LIFETIME),
                          "name": Path(f.object_key).name})
    options = body.options.model_dump(exclude_none=True)
    options["submitted_by"] = principal.username
    store = job_store()
    job_id = store.create(body.camera_id, files, iso(body.start_time), options)
    created = job_to_dict(store.get(job_id))  # the job as recorded: a worker may start planning at once
    try:
        send(PLAN_JOB, job_id)
    except Exception as exc:  # the broker went away after the job was recorded: say so on the job
        store.fail(job_id, f"could not queue the job: {type(exc).__name__}: {exc}")
        raise Unavailable(f"job queue unreachable: {type(exc).__name__}: {exc}") from exc
    return created


def get_job(store: JobStore, job_id: str) -> JobView:
    job = store.get(job_id)
    if job is None:
        raise NotFound(f"job {job_id!r} not found")
    return job


def cancel(store: JobStore, job_id: str) -> JobView:
    get_job(store, job_id)
    if not store.cancel(job_id):
        status = store.status(job_id)
        raise Conflict(f"job {job_id} is already {status}; only queued, planning or running jobs can be "
                       "cancelled", status)
    return get_job(store, job_id)


def job_to_dict(job: JobView) -> dict:
    d = job.to_dict()
    d["files"] = [{"name": f.get("name"), "path": f.get("path")} for f in d["files"]]  # URLs carry signatures
    for k in ("created", "started", "finished"):
        d[k] = iso(d[k]) if d.get(k) else None
    return d
