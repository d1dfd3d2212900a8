"""Push of ticket events to MQTT and webhooks.

The service layer hands a ticket change's events to :func:`stage_ticket_events` just before it
commits: they are written into the push outbox (tables in the ticket database) in the same
transaction, so a committed change always has its events and a rolled-back one never does.
After the commit, :func:`wake` starts delivery in a background thread. For code outside a ticket
transaction there is :func:`publish_ticket_event`::

    from api.push import publish_ticket_event
    publish_ticket_event({"event": "status", "number": "GS-2026-000123", "ticket_id": 123,
                          "from_status": "new", "status": "dispatched", "ticket": {...}})

Neither waits on a broker or a receiver; both raise ``ValueError`` only for an event without a
valid ``event`` name or ``number``. Topics, payloads and the webhook signature are described in
docs/api-interop.md.
"""

from __future__ import annotations

import logging
import threading

from api.push.notifier import Notifier
from api.push.webhooks import SIGNATURE_HEADER, sign, verify_signature

log = logging.getLogger("gridsight.push")

_notifier: Notifier | None = None
_lock = threading.Lock()


def get_notifier(settings=None) -> Notifier:
    """The process's notifier (created from the settings and started on first use)."""
    global _notifier
    if _notifier is None:
        with _lock:
            if _notifier is None:
                if settings is None:
                    from gridsight.settings import get_settings

                    settings = get_settings()
                _notifier = Notifier(settings.sqlalchemy_url, settings.mqtt_host, settings.mqtt_port,
                                     webhook_allow=settings.webhook_allow).start()
    return _notifier


def set_notifier(notifier: Notifier | None) -> Notifier | None:
    """Install a notifier (e.g. one built for a test or an app factory); returns the old one."""
    global _notifier
    with _lock:
        old, _notifier = _notifier, notifier
    return old


def publish_ticket_event(event: dict) -> str | None:
    """Push one committed ticket change; returns the event id (None when nobody listens)."""
    notifier = get_notifier()
    try:
        return notifier.publish(event)
    except ValueError:
        raise
    except Exception:  # the ticket change is committed: report, never fail the request
        log.exception("could not queue ticket event for push",
                      extra={"event": event.get("event"), "number": event.get("number")})
        return None


def stage_ticket_events(session, events: list[dict]) -> bool:
    """Write ``events`` into the outbox inside ``session``'s open transaction, when the
    notifier's outbox is in that database; returns whether it did (then call :func:`wake` after
    the commit; otherwise hand the events to :func:`publish_ticket_event` after it). An event
    without a valid name or number is logged and left out; a database error is raised, so the
    change and its events fail together."""
    if not events:
        return True
    notifier = get_notifier()
    if not notifier.outbox.same_database(session.get_bind()):
        return False
    conn = session.connection()
    for event in events:
        try:
            notifier.stage(event, conn)
        except ValueError:
            log.exception("ticket event left out of push", extra={"event": event.get("event")})
    return True


def wake() -> None:
    """Deliver what was just committed (no-op without a notifier)."""
    if _notifier is not None:
        _notifier.wake()


def shutdown() -> None:
    """Stop the background delivery (pending deliveries stay in the outbox for next time)."""
    old = set_notifier(None)
    if old:
        old.close()


__all__ = ["Notifier", "SIGNATURE_HEADER", "get_notifier", "publish_ticket_event", "set_notifier",
           "shutdown", "sign", "stage_ticket_events", "verify_signature", "wake"]
