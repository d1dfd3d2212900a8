"""Relational storage of the ticket service: ORM models, engines, migrations."""

from api.db.engine import make_engine, make_sessionmaker, normalise_url
from api.db.models import Base

__all__ = ["Base", "make_engine", "make_sessionmaker", "normalise_url"]
