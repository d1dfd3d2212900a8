"""Push of ticket events to MQTT and webhooks.

The service layer calls one function after a ticket change is committed::

    from api.push import publish_ticket_event
    publish_ticket_event({"event": "status", "number": "GS-2026-000123", "ticket_id": 123,
                          "from_status": "new", "status": "dispatched", "ticket": {...}})

It returns at once (the event is written to the push outbox, delivery happens in a background
thread) and never raises for delivery trouble; it raises ``ValueError`` only for an event
without a valid ``event`` name or ``number``. Topics, payloads and the webhook signature are
described in docs/api-interop.md.
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
                _notifier = Notifier(settings.home / "push.db", settings.mqtt_host,
                                     settings.mqtt_port).start()
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


def shutdown() -> None:
    """Stop the background delivery (pending deliveries stay in the outbox for next time)."""
    old = set_notifier(None)
    if old:
        old.close()


__all__ = ["Notifier", "SIGNATURE_HEADER", "get_notifier", "publish_ticket_event", "set_notifier",
           "shutdown", "sign", "verify_signature"]
