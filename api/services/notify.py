"""Ticket events for push delivery (MQTT, webhooks), written in the change's own transaction.

Services queue events on the session (:func:`queue_event`); :func:`commit` writes them into
the push outbox on the session's connection (``api.push.stage_ticket_events``), commits the
request's one transaction and then wakes the push thread: a committed change always has its
events, a failed one none. Where the notifier's outbox is in another database, the events are
handed to ``api.push.publish_ticket_event`` after the commit instead (best effort: a push
failure then never undoes a committed change).
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
        staged = _stage(session, events)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if staged:
        if events:
            from api.push import wake

            wake()
    else:
        publish(events)


def _stage(session: Session, events: list[dict]) -> bool:
    if not events:
        return True
    try:
        from api.push import stage_ticket_events
    except ImportError:
        return False
    return stage_ticket_events(session, events)


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
