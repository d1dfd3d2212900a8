"""``/healthz`` (the process answers) and ``/readyz`` (database and object store reachable)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.schemas.service import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, summary="Readiness: database and object store reachable",
            responses={503: {"model": Readiness, "description": "a dependency is down; the body says which and why"}})
def readyz(request: Request):
    gs = request.app.state.gs
    checks: dict[str, str] = {}
    try:
        with gs.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, never raise: this is the health answer
        checks["database"] = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    try:
        gs.store.health()
        checks["object_store"] = "ok"
    except Exception as exc:
        checks["object_store"] = f"error: {type(exc).__name__}: {str(exc)[:200]}"
    ok = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ok else "unavailable", "checks": checks, "jobs": _job_cluster()}
    return JSONResponse(body, status_code=200 if ok else 503)


def _job_cluster() -> dict:
    """Archive-job queue and workers (informational: the ticket service is ready without them)."""
    try:
        from gridsight.jobs import connect
        from gridsight.queue import snapshot

        snap = snapshot(connect())
    except Exception as exc:
        return {"queue": f"unreachable: {type(exc).__name__}: {str(exc)[:200]}"}
    return {"queue": "ok", "queue_depth": snap["queue_depth"], "unacked": snap["unacked"],
            "workers": [{k: w.get(k) for k in ("id", "device", "concurrency", "segments", "frames", "cameras")}
                        for w in snap["workers"]]}
