"""Tables of Open311 citizen reports: who reported (private) and the public media links.

* ``open311_reporters``: the contact fields a GeoReport v2 POST carries (``first_name``,
  ``last_name``, ``email``, ``phone``, ``description``), one row per reported ticket. Private:
  shown to operators, dispatchers and admins (``GET /api/v1/tickets/{ref}/reporter``) only;
  never in public reads, ticket payloads, push events or logs.
* ``public_media``: the public, revocable link of a ticket's evidence image. ``token`` is random
  (the link is ``/open311/v2/media/{token}.jpg``); ``revoked_at`` set: no public image; the
  rendition (small, people blurred) is cached in the object store as ``object_key``, made from
  the evidence object ``source_key``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.models import Base
from api.db.types import BigId, UTCDateTime


class Reporter(Base):
    __tablename__ = "open311_reporters"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:  # never show the contact fields
        return f"Reporter(ticket_id={self.ticket_id!r})"


class PublicMedia(Base):
    __tablename__ = "public_media"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True,
                                           autoincrement=False)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_key: Mapped[str | None] = mapped_column(String(255))
    object_key: Mapped[str | None] = mapped_column(String(255))
