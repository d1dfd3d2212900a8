"""Tables of the closed loop: operators' reviews, mutes, and verifications of fixes.

* ``reviews``: an operator's verdict on a ticket's detection (one current verdict per ticket):
  ``confirmed``, or ``rejected`` with a reason (wrong_class, not_a_problem, duplicate, privacy).
  Confirmed detections become training labels, rejected ones hard negatives
  (``gridsight dataset export``).
* ``mutes``: after a false positive is rejected, new incidents of the same camera, zone and issue
  type make no ticket until ``until`` (or until lifted); the posts are counted here.
* ``verifications``: each check of a resolved ticket, by the camera (the pipeline re-watched the
  place) or by an "after" photo: the outcome, the numbers behind it and the before/after images.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.models import Base
from api.db.types import BigId, JSONType, UTCDateTime

VERDICTS = ("confirmed", "rejected")
REJECT_REASONS = ("wrong_class", "not_a_problem", "duplicate", "privacy")
METHODS = ("camera", "photo")
OUTCOMES = ("still_present", "gone", "camera_offline")


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(16))
    correct_class: Mapped[str | None] = mapped_column(String(64))  # wrong_class: what it really is
    note: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reviews_at", "at"),)


class Mute(Base):
    __tablename__ = "mutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    zone_id: Mapped[str | None] = mapped_column(String(64))
    issue_type: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(128))
    suppressed: Mapped[int] = mapped_column(Integer, default=0)  # incident posts that made no ticket
    last_suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_key: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (Index("ix_mutes_place", "camera_id", "issue_type", "until"),)


class Verification(Base):
    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(16))
    applied: Mapped[str] = mapped_column(String(16))  # reopen | verify | note
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the resolve that was checked
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    present_frames: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)
    detections: Mapped[list] = mapped_column(JSONType, default=list)
    images: Mapped[list] = mapped_column(JSONType, default=list)  # [{kind, object_key, sha256, content_type}]

    __table_args__ = (Index("ix_verifications_ticket_at", "ticket_id", "at"),)
