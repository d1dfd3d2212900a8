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
from api.services.errors import Unavailable
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
    ingest_sessions: sessionmaker[Session] | None = None  # POST /incidents: asynchronous commit (PostgreSQL)
    auth: object | None = None  # api.auth.Authenticator
    detector: object | None = None  # models.detector.Detector, loaded on first /detect
    detector_lock: threading.Lock = field(default_factory=threading.Lock)

    def detect(self, frames: list) -> list:
        """One ``Detections`` per frame, from the upload detector: one per process, loaded on first use,
        used by one request at a time (a Detector belongs to one thread); 503 when none can be loaded."""
        with self.detector_lock:
            if self.detector is None:
                from models.detector import load_detector

                try:
                    self.detector = load_detector(model=self.settings.model, backend=self.settings.backend)
                except Exception as exc:
                    raise Unavailable(f"no detector: {exc}") from None
                log.info("detector loaded", extra={"detector": repr(self.detector)})
            return self.detector.detect(frames)


async def state(request: Request) -> ServiceState:
    return request.app.state.gs


def db_session(request: Request) -> Iterator[Session]:
    """One session, one transaction per request: services commit it; anything else rolls back."""
    session = request.app.state.gs.sessions()
    try:
        yield session
    finally:
        session.close()
