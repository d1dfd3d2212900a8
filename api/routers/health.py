"""``/healthz`` (the process answers) and ``/readyz`` (database and object store reachable).

``/readyz`` answers ``ok`` or ``error`` per component to anyone (a load balancer needs no key);
why a component is down (error text, which may name internal hosts) and the job workers are shown
to admins only (send an admin's key), and always written to the server log."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.auth import api_key_scheme, bearer_scheme
from api.schemas.service import Health, Readiness

router = APIRouter(tags=["health"])
log = logging.getLogger("gridsight.api")


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, summary="Readiness: database and object store reachable",
            responses={503: {"model": Readiness, "description": "a component is down (`error`); admins also see why"}})
async def readyz(request: Request, api_key: str | None = Security(api_key_scheme),
                 bearer: str | None = Security(bearer_scheme)):
    gs = request.app.state.gs
    secret = api_key or bearer
    try:
        caller = await run_in_threadpool(gs.auth.authenticate, secret) if secret else None
    except Exception:  # the database is down: no caller can be known, the checks still answer
        caller = None
    body = await run_in_threadpool(_ready, gs, caller is not None and caller.role == "admin")
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


def _ready(gs, details: bool) -> dict:
    checks: dict[str, str] = {}
    why: dict[str, str] = {}
    try:
        with gs.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this is the health answer
        checks["database"], why["database"] = "error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    try:
        gs.store.health()
        checks["object_store"] = "ok"
    except Exception as exc:
        checks["object_store"], why["object_store"] = "error", f"{type(exc).__name__}: {str(exc)[:200]}"
    jobs = _job_cluster()
    if why:
        log.warning("not ready", extra=why)
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks, "jobs": {"queue": jobs["queue"]}}
    if details:
        body.update(errors=why, jobs=jobs)
    return body


def _job_cluster() -> dict:
    """Archive-job queue and workers (informational: the ticket service is ready without them)."""
    try:
        from gridsight.jobs import connect
        from gridsight.queue import snapshot

        snap = snapshot(connect())
    except Exception as exc:
        return {"queue": "unreachable", "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    return {"queue": "ok", "queue_depth": snap["queue_depth"], "unacked": snap["unacked"],
            "workers": [{k: w.get(k) for k in ("id", "device", "concurrency", "segments", "frames", "cameras")}
                        for w in snap["workers"]]}
