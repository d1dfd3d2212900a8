"""Tables of the push outbox: webhook subscriptions, ticket events waiting to go out, deliveries.

They live in the ticket database, so an event is written in the same transaction as the ticket
change it reports (nothing is lost between the commit and the push) and every API host sees the
same subscriptions and shares the same queue (a delivery is claimed by one host at a time).
:class:`api.push.outbox.Outbox` reads and writes them; times are Unix seconds.

* ``push_subscriptions``: ``url, secret, events`` (comma-separated event names, empty = all),
  ``active``.
* ``push_events``: ``id`` (uuid, also sent to receivers for de-duplication), ``name``,
  ``number``, ``topic``, ``body`` (the JSON bytes, signed as they are).
* ``push_deliveries``: one per event and target (``mqtt``, or ``webhook`` and a subscription):
  ``state`` (``pending`` / ``delivered`` / ``failed``), ``attempts``, ``next_at``,
  ``claimed_until`` (the lease of the host sending it), ``last_status``, ``last_error``.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from api.db.models import Base
from api.db.types import BigId

class PushSubscription(Base):
    __tablename__ = "push_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(200))
    events: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)


class PushEvent(Base):
    __tablename__ = "push_events"
    __table_args__ = (Index("ix_push_events_created_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(200))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[float] = mapped_column(Float)


class PushDelivery(Base):
    __tablename__ = "push_deliveries"
    __table_args__ = (Index("ix_push_deliveries_due", "state", "next_at"),
                      Index("ix_push_deliveries_claimed", "state", "claimed_until"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), ForeignKey("push_events.id", ondelete="CASCADE"),
                                          index=True)
    target: Mapped[str] = mapped_column(String(16))
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float)
    claimed_until: Mapped[float | None] = mapped_column(Float)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Float)
    delivered_at: Mapped[float | None] = mapped_column(Float)
