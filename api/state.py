"""What the app's requests share: database sessions, clock, rules, grids, object store, detector."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.services.clock import Clock
from api.services.rules import DispatchRules, GridIndex
from gridsight.settings import Settings

log = logging.getLogger("gridsight.api")


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    rules: DispatchRules
    store: object  # api.storage.objects.ObjectStore
    grids: GridIndex = field(default_factory=GridIndex)
    read_sessions: sessionmaker[Session] | None = None  # GET/HEAD requests: on SQLite no write lock (engine.reader)
    ingest_sessions: sessionmaker[Session] | None = None  # POST /incidents: asynchronous commit (PostgreSQL)
    auth: object | None = None  # api.auth.Authenticator
    links: object | None = None  # api.signing.EvidenceLinks
    detector: object | None = None  # models.detector.Detector, loaded on first /detect
    detector_lock: threading.Lock = field(default_factory=threading.Lock)
    operating_points: dict[str, float] | None = None  # the upload model's score per class (registry)
    login: object | None = None  # api.services.login.LoginGuard
    decode_budget: object | None = None  # api.services.decoding.DecodeBudget

    def link(self, principal):
        """The caller's evidence-link signer for ``ticket_to_dict`` (None: plain API paths)."""
        return self.links.for_principal(principal) if self.links is not None else None

    def get_detector(self):
        """The upload detector (one per process; a Detector belongs to one thread at a time)."""
        if self.detector is None:
            from models.detector import load_detector

            self.detector = load_detector(model=self.settings.model, backend=self.settings.backend)
            log.info("detector loaded", extra={"detector": repr(self.detector)})
        return self.detector

    def model_operating_points(self) -> dict[str, float]:
        """The configured model's operating points (``configs/models.yaml``), read once."""
        if self.operating_points is None:
            from models.registry import operating_points

            self.operating_points = operating_points(self.settings.model)
        return self.operating_points

    def detect(self, frames: list) -> tuple[object, list]:
        """(the detector, per frame: (its :class:`~gridsight.issues.Detections` at the detector's
        threshold, the person boxes at the privacy threshold)); 503 when no detector can be loaded."""
        from api.services.errors import Unavailable
        from api.services.evidence import detect_with_people

        with self.detector_lock:
            try:
                detector = self.get_detector()
            except Exception as exc:
                raise Unavailable(f"no detector: {exc}") from None
            return detector, detect_with_people(detector, frames, self.settings.privacy_conf)


async def state(request: Request) -> ServiceState:
    return request.app.state.gs


def db_session(request: Request) -> Iterator[Session]:
    """One session, one transaction per request: services commit it; anything else rolls back.
    GET and HEAD only read: their session never takes SQLite's write lock."""
    gs = request.app.state.gs
    reads = request.method in ("GET", "HEAD") and gs.read_sessions is not None
    session = gs.read_sessions() if reads else gs.sessions()
    try:
        yield session
    finally:
        session.close()
