"""Alembic environment of the ticket service.

Run through :func:`api.db.migrate.upgrade` (the app at start-up, ``gridsight api migrate``) or
``alembic -c api/alembic.ini upgrade head``. The URL comes from the passed connection, else
``sqlalchemy.url`` in the config, else the settings (``GRIDSIGHT_DATABASE_URL``).
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from api.db.models import Base

config = context.config
target_metadata = Base.metadata
MIGRATION_LOCK = 74_201_126  # pg advisory lock id: one migrator at a time


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK})
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from api.db.engine import make_engine
    from gridsight.settings import get_settings

    url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run them against a database")
run_online()
