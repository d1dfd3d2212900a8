"""``gridsight api serve | migrate | create-user | create-key | escalate``."""

from __future__ import annotations

import argparse

from gridsight.errors import UserError

ROLES = ("viewer", "operator", "dispatcher", "handler", "grid_officer", "admin", "ingest")


def register(subparsers) -> None:
    api = subparsers.add_parser("api", help="the ticket API: serve, migrate, users and keys, escalation")
    sub = api.add_subparsers(dest="api_command", metavar="ACTION", required=True)

    serve = sub.add_parser("serve", help="run the API (uvicorn); migrates the database first")
    serve.add_argument("--host", default=None, help="default GRIDSIGHT_API_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="default GRIDSIGHT_API_PORT (8000)")
    serve.add_argument("--workers", type=int, default=1, help="processes (PostgreSQL for more than 1)")
    serve.set_defaults(func=_serve)

    migrate = sub.add_parser("migrate", help="bring the database schema to the newest version")
    migrate.set_defaults(func=_migrate)

    user = sub.add_parser("create-user", help="create a user (or change its role, scope and password)")
    user.add_argument("username")
    user.add_argument("--role", required=True, choices=ROLES)
    user.add_argument("--department", help="handlers: their department id")
    user.add_argument("--grid", help="grid officers: their grid id")
    user.add_argument("--password-stdin", action="store_true", help="read a password (OAuth2 login) from stdin")
    user.set_defaults(func=_create_user)

    key = sub.add_parser("create-key", help="create an API key for a user (made with --role if missing); "
                                            "prints the secret once")
    key.add_argument("username")
    key.add_argument("--role", choices=ROLES, help="role of the user when it has to be created")
    key.add_argument("--department", help="handlers: their department id")
    key.add_argument("--grid", help="grid officers: their grid id")
    key.add_argument("--name", default="", help="what the key is for")
    key.add_argument("--expires-days", type=int, default=None)
    key.set_defaults(func=_create_key)

    esc = sub.add_parser("escalate", help="escalate overdue open tickets now")
    esc.set_defaults(func=_escalate)


def _one_line(exc: Exception) -> str:
    """A database error as one line: the driver's message, without SQLAlchemy's links."""
    msg = str(getattr(exc, "orig", None) or exc)
    return " ".join(line.strip() for line in msg.splitlines() if line.strip() and "sqlalche.me" not in line)


def _state():
    from api.app import create_app, start_up

    app = create_app(escalation=False)
    gs = app.state.gs
    try:
        start_up(gs)
    except Exception as exc:
        raise UserError(f"database {gs.engine.url.render_as_string(hide_password=True)}: {_one_line(exc)}") from exc
    return gs


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gridsight.settings import get_settings

    s = get_settings()
    uvicorn.run("api.app:create_app", factory=True, host=args.host or s.api_host, port=args.port or s.api_port,
                workers=args.workers, log_level=s.log_level.lower(), access_log=False)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from api.db.engine import make_engine
    from api.db.migrate import current_revision, upgrade
    from gridsight.settings import get_settings

    engine = make_engine(get_settings().sqlalchemy_url, pool_size=1)
    try:
        upgrade(engine)
        print(f"database at revision {current_revision(engine)}: "
              f"{engine.url.render_as_string(hide_password=True)}")
    except Exception as exc:
        raise UserError(f"migration failed: {_one_line(exc)}") from exc
    finally:
        engine.dispose()
    return 0


def _user(session, gs, username: str, role: str | None, department: str | None, grid: str | None,
          password: str | None = None):
    from sqlalchemy import select

    from api.auth import check_role_scope, hash_password
    from api.db.models import Department, Grid, User

    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        if role is None:
            raise UserError(f"no user {username!r}: give --role to create it")
        user = User(username=username, display_name=username, role=role, active=True, created_at=gs.clock.now())
        session.add(user)
    if role:
        user.role = role
    if department is not None:
        user.department_id = department
    if grid is not None:
        user.grid_id = grid
    try:
        check_role_scope(user.role, user.department_id, user.grid_id)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if user.department_id and session.get(Department, user.department_id) is None:
        raise UserError(f"no department {user.department_id!r} (see configs/dispatch.yaml)")
    if user.grid_id and session.get(Grid, user.grid_id) is None:
        raise UserError(f"no grid {user.grid_id!r} (see configs/dispatch.yaml)")
    if password:
        user.password_hash = hash_password(password)
    session.flush()
    return user


def _create_user(args: argparse.Namespace) -> int:
    import sys

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 8:
            raise UserError("the password needs at least 8 characters")
    gs = _state()
    with gs.sessions() as session:
        user = _user(session, gs, args.username, args.role, args.department, args.grid, password)
        session.commit()
        print(f"user {user.username} (id {user.id}, role {user.role})")
    return 0


def _create_key(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from api.auth import issue_credential

    gs = _state()
    with gs.sessions() as session:
        user = _user(session, gs, args.username, args.role, args.department, args.grid)
        ttl = timedelta(days=args.expires_days) if args.expires_days else None
        _, secret = issue_credential(session, user, gs.clock.now(), name=args.name, ttl=ttl)
        session.commit()
    print(secret)
    return 0


def _escalate(args: argparse.Namespace) -> int:
    from api.app import run_escalation

    print(f"escalated {run_escalation(_state())} overdue tickets")
    return 0
