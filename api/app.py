"""The ticket service's FastAPI app: ``create_app()``.

>>> from api.app import create_app
>>> app = create_app()          # settings from GRIDSIGHT_* (SQLite under var/ by default)  # doctest: +SKIP

Serve it with ``gridsight api serve`` (or ``uvicorn --factory api.app:create_app``). At start-up
the app migrates the database to the newest schema, loads departments, grids and cameras from
``configs/``, registers the pipeline's ingest key (``GRIDSIGHT_API_KEY``, when set) and starts
the SLA escalation loop.
"""

from __future__ import annotations

import importlib
import logging
import threading
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import DataError

from api.auth import Authenticator, hash_secret, issue_credential
from api.db.engine import make_engine, make_sessionmaker, reader
from api.db.migrate import upgrade
from api.db.models import ApiKey, User
from api.responses import validation_error
from api.openapi import document
from api.services.clock import Clock
from api.services.decoding import DecodeBudget
from api.signing import EvidenceLinks, secret_key
from api.services.errors import Conflict, Invalid, ServiceError
from api.services.escalation import escalate_overdue
from api.services.login import LoginGuard
from api.services.notify import commit
from api.services.registry import load_grid_index, sync_from_configs
from api.services.rules import DispatchRules
from api.state import ServiceState
from gridsight.settings import Settings, get_settings

log = logging.getLogger("gridsight.api")
ROUTERS = ("health", "auth_routes", "incidents", "detect", "tickets", "stats", "admin")
# Routers other engineers add (GeoJSON, Open311, metrics, object URLs): mounted when present.
OPTIONAL_ROUTERS = ("geo", "open311", "metrics", "objects", "docs_ui", "jobs", "webhooks", "review", "verification",
                    "reports", "queue", "console")
MAX_UPLOAD_FILES = 8
PIPELINE_USER = "pipeline"

TAGS = [  # the docs UI's order: an operator's daily work first
    {"name": "review", "description": "Review detections: confirm, or reject with a reason (a false positive mutes its "
                                      "camera, zone and type); mutes; reviewed detections for training."},
    {"name": "lifecycle", "description": "Move a ticket on: dispatch, start, resolve, verify, close, reopen; reject or "
                                         "mark duplicate. Each answers the ticket; 409 lists what its status allows."},
    {"name": "tickets", "description": "List and read tickets, their history, feedback and evidence; the map "
                                       "(GeoJSON)."},
    {"name": "verification", "description": "Was the fix real? Camera checks, \"after\" photos, before/after images."},
    {"name": "stats", "description": "Counts, handling times, SLA compliance, reopen and false-positive rates."},
    {"name": "reports", "description": "The evaluation report per department or grid and period (JSON, chart)."},
    {"name": "incidents", "description": "The pipeline's door: incidents in, one ticket per incident key."},
    {"name": "detect", "description": "Upload images: detections, and the incidents and tickets they make."},
    {"name": "jobs", "description": "Archived footage reprocessed by the worker cluster."},
    {"name": "admin", "description": "Cameras, zones, grids, departments, users, keys, webhooks, escalation."},
    {"name": "open311", "description": "Open311 GeoReport v2 for civic clients (JSON or XML)."},
    {"name": "auth", "description": "OAuth2 password flow for bearer tokens (the Authorize button)."},
    {"name": "health", "description": "Liveness, readiness and metrics."},
]


def create_app(settings: Settings | None = None, *, clock: Clock | None = None, store=None,
               detector=None, migrate: bool = True, escalation: bool = True) -> FastAPI:
    """Build the app. ``clock``, ``store`` and ``detector`` replace the defaults (tests inject a
    manual clock; deployments pass nothing). ``escalation=False`` leaves overdue checks to
    ``POST /api/v1/admin/escalate``."""
    settings = settings or get_settings()
    clock = clock or Clock()
    key = secret_key(settings)  # ValueError for a weak configured key: refuse to start
    if store is None:
        from api.storage.objects import get_object_store

        store = get_object_store(settings)
    engine = make_engine(settings.sqlalchemy_url, pool_size=settings.api_threads)
    sessions = make_sessionmaker(engine)
    read_sessions = make_sessionmaker(reader(engine))
    # The pipeline's door gets its own small pool whose commits do not wait for the WAL flush
    # (PostgreSQL; idempotent, re-sent messages: see make_engine). SQLite shares the one engine.
    ingest_engine = engine
    if engine.dialect.name == "postgresql":
        ingest_engine = make_engine(settings.sqlalchemy_url, pool_size=settings.api_threads, async_commit=True)
    gs = ServiceState(settings=settings, engine=engine, sessions=sessions, clock=clock,
                      rules=DispatchRules.load(settings.configs), store=store, detector=detector,
                      read_sessions=read_sessions, ingest_sessions=make_sessionmaker(ingest_engine))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        # Blocking handlers run on this many threads, never more than a pool holds: no connection
        # is opened and closed per request under load, and fewer threads contend for the GIL.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        start_up(gs, migrate=migrate)
        worker = None
        if escalation and gs.rules.escalation_interval_s > 0:
            worker = threading.Thread(target=_escalation_loop, args=(gs, stop), name="gridsight-sla", daemon=True)
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=10)
            engine.dispose()
            ingest_engine.dispose()
            gs.login.close()

    app = FastAPI(title="GridSight ticket API", version="1.0",
                  description="Incidents from cameras, footage and uploads become tickets that are dispatched, "
                              "tracked and evaluated. Authorize with an API key or username and password.",
                  openapi_tags=TAGS, lifespan=lifespan,
                  max_body_size=settings.upload_max_bytes * MAX_UPLOAD_FILES + (1 << 20))
    app.state.gs = gs
    app.state.auth = gs.auth = Authenticator(read_sessions, clock)
    gs.links = EvidenceLinks(key, clock)
    gs.login = LoginGuard(settings)
    gs.decode_budget = DecodeBudget(max(settings.decode_budget_pixels, settings.upload_max_pixels),
                                    settings.decode_wait_s)
    _add_error_handlers(app)
    document(app)
    for name in ROUTERS:
        app.include_router(importlib.import_module(f"api.routers.{name}").router)
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(f"api.routers.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"api.routers.{name}":
                raise
            continue
        app.include_router(module.router)
    return app


def start_up(gs: ServiceState, migrate: bool = True) -> None:
    """Migrate, load the registry from configs/, register the pipeline's key."""
    if migrate:
        upgrade(gs.engine)
    with gs.sessions() as session:
        gs.grids = sync_from_configs(session, gs.rules, gs.settings.configs / "cameras.yaml")
        _register_pipeline_key(session, gs)
        session.commit()


def _register_pipeline_key(session, gs: ServiceState) -> None:
    secret = gs.settings.api_key
    if not secret:
        return
    if len(secret) < 16:
        raise ValueError("GRIDSIGHT_API_KEY must be at least 16 characters")
    if session.scalar(select(ApiKey.id).where(ApiKey.secret_hash == hash_secret(secret))) is not None:
        return
    user = session.scalar(select(User).where(User.username == PIPELINE_USER))
    if user is None:
        user = User(username=PIPELINE_USER, display_name="Stream pipeline", role="ingest",
                    created_at=gs.clock.now())
        session.add(user)
        session.flush()
    issue_credential(session, user, gs.clock.now(), name="GRIDSIGHT_API_KEY", secret=secret)
    log.info("pipeline ingest key registered", extra={"user": PIPELINE_USER})


def run_escalation(gs: ServiceState) -> int:
    with gs.sessions() as session:
        n = len(escalate_overdue(session, gs.clock.now()))
        commit(session)
    return n


def _escalation_loop(gs: ServiceState, stop: threading.Event) -> None:
    """Escalate overdue tickets; also pick up grids another process changed (admin API)."""
    while not stop.wait(gs.rules.escalation_interval_s):
        try:
            n = run_escalation(gs)
            if n:
                log.info("overdue tickets escalated", extra={"count": n})
            with gs.sessions() as session:
                gs.grids = load_grid_index(session)
        except Exception:
            log.warning("escalation run failed", exc_info=True)


def _add_error_handlers(app: FastAPI) -> None:
    from api.storage.objects import ObjectNotFound, ObjectStoreError

    app.add_exception_handler(RequestValidationError, validation_error)

    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: DataError):
        # the last line of defence: the schemas should have refused the value already
        log.warning("database refused a value", extra={"path": request.url.path, "error": type(exc.orig).__name__})
        return JSONResponse({"detail": "a value is out of the range the database can hold"}, status_code=422)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError):
        if isinstance(exc, Invalid):
            return JSONResponse({"detail": exc.errors}, status_code=422)
        body: dict = {"detail": exc.detail}
        if isinstance(exc, Conflict):
            body.update(status=exc.status, allowed=exc.allowed)
        retry = getattr(exc, "retry_after_s", None)
        return JSONResponse(body, status_code=exc.status_code, headers={"Retry-After": str(retry)} if retry else None)

    @app.exception_handler(ObjectNotFound)
    async def _object_missing(request: Request, exc: ObjectNotFound):
        return JSONResponse({"detail": f"evidence not in the object store: {exc}"}, status_code=404)

    @app.exception_handler(ObjectStoreError)
    async def _store_down(request: Request, exc: ObjectStoreError):
        return JSONResponse({"detail": f"object store unavailable: {exc}"}, status_code=503)
