"""Ticket statistics: counts by status, type, grid, department and period; handling times,
SLA compliance, reopen rate, false-positive rate, mean rating. Aggregated in the database."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import Float, case, cast, func, literal_column, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.models import Feedback, Ticket
from api.services.tickets import TicketFilters, filter_tickets
from gridsight.times import period_of

PERIODS = ("day", "week", "month")


def _epoch(session: Session, col):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", col)
    return (func.julianday(col) - 2440587.5) * 86400.0


def _day(session: Session, col):
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", col), "YYYY-MM-DD")
    return func.strftime("%Y-%m-%d", col)


def compute_stats(session: Session, f: TicketFilters, principal: Principal | None, period: str = "day") -> dict:
    def grouped(col) -> dict:
        rows = session.execute(filter_tickets(select(col, func.count()).select_from(Ticket), f, principal)
                               .group_by(col)).all()
        return {(k if k is not None else "none"): n for k, n in rows}

    by_day = grouped(_day(session, Ticket.created_at))
    by_period: Counter = Counter()
    for day, n in by_day.items():
        by_period[period_of(date.fromisoformat(day), period)] += n

    ep = lambda c: _epoch(session, c)  # noqa: E731
    one = literal_column("1")
    agg = select(
        func.count().label("total"),
        func.avg(case((Ticket.dispatched_at.is_not(None), ep(Ticket.dispatched_at) - ep(Ticket.created_at)))).label("ttd"),
        func.avg(case((Ticket.resolved_at.is_not(None), ep(Ticket.resolved_at) - ep(Ticket.created_at)))).label("ttr"),
        func.sum(case((Ticket.resolved_at.is_not(None) & Ticket.due_at.is_not(None), one), else_=0)).label("sla_n"),
        func.sum(case((Ticket.resolved_at.is_not(None) & (Ticket.resolved_at <= Ticket.due_at), one), else_=0))
        .label("sla_ok"),
        func.sum(case((Ticket.reopen_count > 0, one), else_=0)).label("reopened"),
        func.sum(case(((Ticket.resolved_at.is_not(None)) | (Ticket.reopen_count > 0)
                       | Ticket.status.in_(("resolved", "verified", "closed")), one), else_=0)).label("handled"),
        func.sum(case((Ticket.status == "rejected", one), else_=0)).label("rejected"),
        func.sum(case((Ticket.status == "duplicate", one), else_=0)).label("duplicates"),
        func.sum(case((Ticket.overdue.is_(True) & Ticket.status.in_(("new", "dispatched", "in_progress", "reopened")),
                       one), else_=0)).label("overdue_open"),
    ).select_from(Ticket)
    a = session.execute(filter_tickets(agg, f, principal)).one()
    ratings = session.execute(
        filter_tickets(select(func.avg(cast(Feedback.rating, Float)), func.count(Feedback.rating))
                       .select_from(Feedback).join(Ticket, Ticket.id == Feedback.ticket_id), f, principal)
        .where(Feedback.rating.is_not(None))).one()

    def ratio(n, d):
        return round(n / d, 4) if d else None

    total = a.total or 0
    return {
        "total": total,
        "by_status": grouped(Ticket.status),
        "by_type": grouped(Ticket.issue_type),
        "by_grid": grouped(Ticket.grid_id),
        "by_department": grouped(Ticket.department_id),
        "period": period,
        "by_period": dict(sorted(by_period.items())),
        "mean_time_to_dispatch_s": round(float(a.ttd), 1) if a.ttd is not None else None,
        "mean_time_to_resolve_s": round(float(a.ttr), 1) if a.ttr is not None else None,
        "sla_compliance": ratio(a.sla_ok or 0, a.sla_n or 0),
        "overdue_open": a.overdue_open or 0,
        "reopen_rate": ratio(a.reopened or 0, a.handled or 0),
        "false_positive_rate": ratio(a.rejected or 0, total - (a.duplicates or 0)),
        "mean_rating": round(float(ratings[0]), 2) if ratings[0] is not None else None,
        "ratings": ratings[1],
    }
