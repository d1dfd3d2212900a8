"""ORM models of the ticket service (SQLAlchemy 2, typed mappings).

Tables: ``departments``, ``grids``, ``cameras``, ``zones``, ``users``, ``api_keys`` (API keys
and bearer tokens, secrets hashed), ``tickets``, ``ticket_events`` (history: every change),
``feedback`` (handler notes and photos, ratings).

The public ticket number ``GS-YYYY-NNNNNN`` is derived from the creation year and the id
(:attr:`Ticket.number`), so creating a ticket is a single ``INSERT ... ON CONFLICT``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.db.types import BigId, JSONType, UTCDateTime
from gridsight.issues import SEVERITIES  # noqa: F401  (the catalogue's; tickets carry one)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ticket statuses. "Open" ones can still be rejected or marked duplicate.
STATUSES = ("new", "dispatched", "in_progress", "resolved", "verified", "closed", "reopened",
            "rejected", "duplicate")
OPEN_STATUSES = ("new", "dispatched", "in_progress", "reopened")
DONE_STATUSES = ("resolved", "verified", "closed")  # the problem was handled
FINAL_STATUSES = ("closed", "rejected", "duplicate")
SOURCES = ("camera", "upload", "batch")
ROLES = ("viewer", "operator", "dispatcher", "handler", "grid_officer", "admin", "ingest")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_en: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200), default="")


class Grid(Base):
    """A city-management grid: a lat/lon polygon; tickets inside it are its officer's."""

    __tablename__ = "grids"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    polygon: Mapped[list] = mapped_column(JSONType)  # [[lat, lon], ...]
    min_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)


class Camera(Base):
    """A camera of the registry. ``stream_url`` carries credentials: never returned, never logged."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    stream_url: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    options: Mapped[dict] = mapped_column(JSONType, default=dict)  # other cameras.yaml fields

    def __repr__(self) -> str:  # never show the stream URL
        return f"Camera(id={self.id!r}, name={self.name!r})"


class Zone(Base):
    """A zone of a camera's picture (pixel polygon), as the pipeline's rules use it."""

    __tablename__ = "zones"

    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    polygon: Mapped[list] = mapped_column(JSONType)  # [[x, y], ...] source pixels
    options: Mapped[dict] = mapped_column(JSONType, default=dict)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2; None: keys only
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """An API key (``kind='key'``) or an OAuth2 bearer token (``kind='token'``) of a user.

    Only the SHA-256 of the secret is stored (the secrets are 256-bit random, so a fast hash
    is safe); ``prefix`` is the first characters, to recognise a key in listings.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    kind: Mapped[str] = mapped_column(String(8), default="key")
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    issue_type: Mapped[str] = mapped_column(String(64))
    category_code: Mapped[str] = mapped_column(String(16), default="")
    name_en: Mapped[str] = mapped_column(String(200), default="")
    name_zh: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    source: Mapped[str] = mapped_column(String(16), default="camera")
    camera_id: Mapped[str | None] = mapped_column(String(64))  # no FK: ingestion never waits on the registry
    zone_id: Mapped[str | None] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    grid_id: Mapped[str | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    department_id: Mapped[str | None] = mapped_column(ForeignKey("departments.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # times
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first seen (footage time)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(Text)  # why rejected
    incident_state: Mapped[str] = mapped_column(String(8), default="open")  # the pipeline's view
    score: Mapped[float] = mapped_column(Float, default=0.0)
    detections: Mapped[list] = mapped_column(JSONType, default=list)
    evidence: Mapped[list] = mapped_column(JSONType, default=list)

    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_type_created", "issue_type", "created_at"),
        Index("ix_tickets_grid_created", "grid_id", "created_at"),
        Index("ix_tickets_department_created", "department_id", "created_at"),
        Index("ix_tickets_camera_created", "camera_id", "created_at"),
        Index("ix_tickets_created", "created_at"),
        Index("ix_tickets_lat_lon", "lat", "lon"),
        Index("ix_tickets_overdue_due", "overdue", "due_at"),
        Index("ix_tickets_type_status_created", "issue_type", "status", "created_at"),  # a type's queue
        Index("ix_tickets_severity_due", "severity", "due_at"),  # most urgent first
    )

    @property
    def number(self) -> str:
        return ticket_number(self.created_at.year, self.id)


def ticket_number(year: int, ticket_id: int) -> str:
    """``GS-2026-000123``: creation year and id (six digits at least)."""
    return f"GS-{year:04d}-{ticket_id:06d}"


def parse_ticket_number(text: str) -> tuple[int, int] | None:
    """``"GS-2026-000123"`` -> ``(2026, 123)``; None when it is not a ticket number."""
    parts = text.strip().upper().split("-")
    if len(parts) != 3 or parts[0] != "GS" or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return int(parts[1]), int(parts[2])


class TicketEvent(Base):
    """One change of a ticket: who, when, what (action), status from -> to, a note."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONType)

    __table_args__ = (Index("ix_ticket_events_ticket_at", "ticket_id", "at"),)


class Feedback(Base):
    """A handler's note (with photos) or a rating of the handling (1-5 and a comment)."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    author: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    photos: Mapped[list] = mapped_column(JSONType, default=list)  # object-store keys
