"""Ticket events for push delivery (MQTT, webhooks), published only after the commit.

Services queue events on the session (:func:`queue_event`); :func:`commit` commits the
request's one transaction and then hands each event to ``api.push.publish_ticket_event``
(the push module; while it is absent, events are only logged at DEBUG). A push failure never
undoes or fails a committed change.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

log = logging.getLogger("gridsight.api.notify")
_EVENTS = "gridsight_events"


def queue_event(session: Session, kind: str, ticket: dict, **extra) -> None:
    """``kind``: ticket.created, ticket.updated, ticket.status_changed, ticket.escalated, ticket.feedback."""
    session.info.setdefault(_EVENTS, []).append({"event": kind, "ticket": ticket, **extra})


def commit(session: Session) -> None:
    events = session.info.pop(_EVENTS, [])
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    publish(events)


def discard(session: Session) -> None:
    session.info.pop(_EVENTS, None)


def publish(events: list[dict]) -> None:
    if not events:
        return
    try:
        from api.push import publish_ticket_event
    except ImportError:
        log.debug("push module absent; %d ticket events not delivered", len(events))
        return
    for event in events:
        try:
            publish_ticket_event(event)
        except Exception:  # delivery is best effort; the change is committed
            log.warning("ticket event not handed to push", exc_info=True,
                        extra={"event": event.get("event"), "ticket_id": event.get("ticket", {}).get("id")})
