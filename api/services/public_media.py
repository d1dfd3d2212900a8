"""What Open311 shows the public: which tickets, and their evidence as a safe, small image.

* :func:`is_public` / :func:`public_clauses`: a ticket is public when public reads are on and
  its issue type and source are among the public ones (``GRIDSIGHT_OPEN311_PUBLIC_*``).
* :func:`media_tokens`: the public link of each ticket's evidence, ``/open311/v2/media/{token}.jpg``.
  The token is random, made on the ticket's first public read and kept (long-lived); an admin
  revokes it (``POST /api/v1/tickets/{ref}/public-media/revoke``) or renews it (a new token, the
  old link dead). A rejected ticket, or one no longer public, has no public image.
* :func:`rendition`: the image behind a link. Never an unblurred frame: the stored picture (the
  blurred ``raw`` kind first: every person was blurred when it was stored; else annotated) shrunk to
  ``open311_media_max_px`` and every person the detector finds on it blurred again. Made once per
  evidence object and cached in the object store under ``public/``.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import cv2
import numpy as np
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.db.models import Ticket
from api.db.open311 import PublicMedia
from api.services.errors import NotFound
from gridsight.evidence import blur_people, encode_jpeg
from gridsight.settings import Settings

MEDIA_PATH = "/open311/v2/media/{token}.jpg"


def is_public(settings: Settings, issue_type: str, source: str) -> bool:
    types = settings.open311_public_issue_types
    return (settings.open311_public_reads and source in settings.open311_public_sources
            and (not types or issue_type in types))


def public_clauses(settings: Settings) -> list:
    """SQL conditions for :func:`is_public` (public reads assumed on)."""
    where = [Ticket.source.in_(settings.open311_public_sources)]
    if settings.open311_public_issue_types:
        where.append(Ticket.issue_type.in_(settings.open311_public_issue_types))
    return where


def media_source(ticket) -> str | None:
    """The evidence object a public image is made from: the blurred picture (raw) first, else annotated."""
    refs = ticket.evidence or []
    for kind in ("raw", "annotated"):
        for e in refs:
            if e.get("kind") == kind and e.get("object_key"):
                return e["object_key"]
    return None


def _has_media(settings: Settings, ticket) -> bool:
    return (ticket.status != "rejected" and is_public(settings, ticket.issue_type, ticket.source)
            and media_source(ticket) is not None)


def _insert_ignoring_existing(session: Session, rows: list[dict]) -> None:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(PublicMedia.__table__).values(rows).on_conflict_do_nothing())


def media_tokens(session: Session, settings: Settings, tickets: list, now: datetime) -> dict[int, str]:
    """``{ticket id: token}`` of the tickets with a public image; tokens are made (and committed)
    for tickets shown for the first time."""
    wanted = [t.id for t in tickets if _has_media(settings, t)]
    if not wanted:
        return {}
    query = select(PublicMedia.ticket_id, PublicMedia.token, PublicMedia.revoked_at).where(
        PublicMedia.ticket_id.in_(wanted))
    rows = {r.ticket_id: r for r in session.execute(query)}
    missing = [i for i in wanted if i not in rows]
    if missing:  # concurrent readers: the first token stays, the others are dropped
        _insert_ignoring_existing(session, [{"ticket_id": i, "token": secrets.token_urlsafe(24), "created_at": now}
                                            for i in missing])
        session.commit()
        rows = {r.ticket_id: r for r in session.execute(query)}
    return {i: r.token for i, r in rows.items() if r.revoked_at is None}


def set_link(session: Session, ticket: Ticket, now: datetime, *, revoke: bool) -> PublicMedia:
    """Revoke a ticket's public image, or give it a new token (the old link stops working)."""
    row = session.get(PublicMedia, ticket.id)
    if row is None:
        row = PublicMedia(ticket_id=ticket.id, token=secrets.token_urlsafe(24), created_at=now)
        session.add(row)
    elif not revoke:
        row.token, row.created_at = secrets.token_urlsafe(24), now
    row.revoked_at = now if revoke else None
    session.flush()
    return row


def rendition(gs, token: str) -> bytes:
    """The JPEG behind a public link; NotFound for unknown, revoked or no longer public ones."""
    with gs.sessions() as session:
        row = session.scalar(select(PublicMedia).where(PublicMedia.token == token))
        ticket = session.get(Ticket, row.ticket_id) if row is not None else None
        if ticket is None or row.revoked_at is not None or not _has_media(gs.settings, ticket):
            raise NotFound("no public image under this link (unknown, revoked, or the request is not public)")
        source = media_source(ticket)
        cached = row.object_key if row.source_key == source else None
    if cached and gs.store.exists(cached):
        return gs.store.get(cached)
    data = public_image(gs, gs.store.get(source))
    key = gs.store.put(data, "image/jpeg", prefix="public")
    with gs.sessions() as session:
        session.execute(update(PublicMedia).where(PublicMedia.token == token)
                        .values(source_key=source, object_key=key))
        session.commit()
    return data


def public_image(gs, data: bytes) -> bytes:
    """``data`` (an image) shrunk to ``open311_media_max_px`` with every person blurred, as JPEG."""
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise NotFound("the evidence image is unreadable")
    longest = max(frame.shape[:2])
    if longest > gs.settings.open311_media_max_px:
        scale = gs.settings.open311_media_max_px / longest
        frame = cv2.resize(frame, (max(1, round(frame.shape[1] * scale)), max(1, round(frame.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
    _, [(_, people)] = gs.detect([frame])
    return encode_jpeg(blur_people(frame, people), quality=80)
