"""Relational storage of the ticket service: ORM models, engines, migrations.

Every module defining tables is imported here, so ``Base.metadata`` (what Alembic and the
migration test compare against) always holds all of them.
"""

from api.db.engine import make_engine, make_sessionmaker, normalise_url
from api.db.models import Base
from api.db import loop  # noqa: F401,E402  (the closed loop's tables: reviews, mutes, verifications)
from api.db import push  # noqa: F401,E402  (the push outbox: subscriptions, events, deliveries)
from api.db import open311  # noqa: F401,E402  (Open311 reporters, public media links)

__all__ = ["Base", "make_engine", "make_sessionmaker", "normalise_url"]
