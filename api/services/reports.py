"""The evaluation report: how well problems get fixed, per department or grid and per period.

For every (period, group) cell, over the tickets *created* in that period (a cohort):
tickets, mean time to dispatch (created -> dispatched), mean time to fix (dispatched -> resolved),
tickets verified and the share of them verified by a camera, reopen rate (tickets reopened at
least once / tickets handled), false-positive rate (rejected / tickets that are not duplicates)
and the mean rating. :func:`chart_png` draws the same numbers (matplotlib, Agg backend).
"""

from __future__ import annotations

import io
from collections import defaultdict

from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.db.loop import Verification
from api.db.models import Feedback, Ticket
from api.services.tickets import TicketFilters, filter_tickets
from gridsight.times import period_of

GROUPS = {"department": Ticket.department_id, "grid": Ticket.grid_id}
PERIODS = ("day", "week", "month")
METRICS = {  # key: (English, Chinese) label
    "tickets": ("Tickets", "工单数"),
    "mean_time_to_dispatch_h": ("Time to dispatch (h)", "派遣时长"),
    "mean_time_to_fix_h": ("Time to fix (h)", "处置时长"),
    "verified_by_camera_share": ("Verified by camera", "摄像头核查占比"),
    "reopen_rate": ("Reopen rate", "返工率"),
    "false_positive_rate": ("False-positive rate", "误报率"),
    "mean_rating": ("Mean rating (1-5)", "平均评分"),
}
HANDLED = ("resolved", "verified", "closed")


class _Cell:
    """Sums and counts of one (period, group) cell; cells merge into group and overall totals."""

    __slots__ = ("n", "n_dispatch", "s_dispatch", "n_fix", "s_fix", "handled", "reopened", "rejected", "duplicates",
                 "verified", "by_camera", "n_rating", "s_rating")

    def __init__(self) -> None:
        for k in self.__slots__:
            setattr(self, k, 0)

    def add(self, t, camera_verified: bool, rating: float | None) -> None:
        self.n += 1
        if t.dispatched_at is not None:
            self.n_dispatch += 1
            self.s_dispatch += (t.dispatched_at - t.created_at).total_seconds()
            if t.resolved_at is not None:
                self.n_fix += 1
                self.s_fix += (t.resolved_at - t.dispatched_at).total_seconds()
        if t.resolved_at is not None or t.reopen_count > 0 or t.status in HANDLED:
            self.handled += 1
        self.reopened += t.reopen_count > 0
        self.rejected += t.status == "rejected"
        self.duplicates += t.status == "duplicate"
        if t.verified_at is not None:
            self.verified += 1
            self.by_camera += camera_verified
        if rating is not None:
            self.n_rating += 1
            self.s_rating += rating

    def merge(self, other: "_Cell") -> "_Cell":
        for k in self.__slots__:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        return self

    def as_dict(self) -> dict:
        def ratio(a, b, digits=4):
            return round(a / b, digits) if b else None

        return {"tickets": self.n, "mean_time_to_dispatch_h": ratio(self.s_dispatch / 3600, self.n_dispatch, 3),
                "mean_time_to_fix_h": ratio(self.s_fix / 3600, self.n_fix, 3), "verified": self.verified,
                "verified_by_camera": self.by_camera, "verified_by_camera_share": ratio(self.by_camera, self.verified),
                "reopen_rate": ratio(self.reopened, self.handled),
                "false_positive_rate": ratio(self.rejected, self.n - self.duplicates),
                "mean_rating": ratio(self.s_rating, self.n_rating, 2), "ratings": self.n_rating}


def build_report(session: Session, f: TicketFilters, principal: Principal | None, *, by: str = "department",
                 period: str = "week") -> dict:
    """The report as JSON-ready dict: one row per (period, group), totals per group and overall."""
    group_col = GROUPS[by]
    rows = session.execute(filter_tickets(
        select(Ticket.id, Ticket.created_at, Ticket.dispatched_at, Ticket.resolved_at, Ticket.verified_at,
               Ticket.status, Ticket.reopen_count, group_col.label("grp")), f, principal)).all()
    ids = filter_tickets(select(Ticket.id), f, principal).scalar_subquery()
    by_camera = set(session.scalars(select(Verification.ticket_id).where(
        Verification.ticket_id.in_(ids), Verification.method == "camera", Verification.applied == "verify")))
    ratings = dict(session.execute(select(Feedback.ticket_id, func.avg(cast(Feedback.rating, Float))).where(
        Feedback.ticket_id.in_(ids), Feedback.rating.is_not(None)).group_by(Feedback.ticket_id)).all())
    cells: dict[tuple[str, str], _Cell] = defaultdict(_Cell)
    days: dict = {}
    for t in rows:
        day = t.created_at.date()
        key = days.get(day) or days.setdefault(day, period_of(t.created_at, period))
        cells[(key, t.grp or "none")].add(t, t.id in by_camera, float(ratings[t.id]) if t.id in ratings else None)
    groups: dict[str, _Cell] = defaultdict(_Cell)
    total = _Cell()
    for (_, grp), cell in cells.items():
        groups[grp].merge(cell)
        total.merge(cell)
    return {
        "by": by, "period": period,
        "from": f.created_from.isoformat() if f.created_from else None,
        "to": f.created_to.isoformat() if f.created_to else None,
        "rows": [{"period": p, "group": g, **c.as_dict()} for (p, g), c in sorted(cells.items())],
        "groups": {g: c.as_dict() for g, c in sorted(groups.items())},
        "total": total.as_dict(),
    }


def chart_png(report: dict, *, dpi: int = 100) -> bytes:
    """The report's metrics per period as a PNG: one panel per metric, one line per group."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _cjk_font()
    periods = sorted({r["period"] for r in report["rows"]})
    groups = sorted({r["group"] for r in report["rows"]})
    values = {(r["period"], r["group"]): r for r in report["rows"]}
    fig = Figure(figsize=(16, 8), dpi=dpi)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 4).ravel()
    x = list(range(len(periods)))
    for ax, (key, (en, zh)) in zip(axes, METRICS.items()):
        for g in groups:
            ys = [values.get((p, g), {}).get(key) for p in periods]
            ax.plot(x, [float("nan") if y is None else y for y in ys], marker="o", label=g)
        ax.set_title(f"{en} {zh}", fontsize=10)
        ax.set_xticks(x, periods, rotation=45, ha="right", fontsize=8)
        ax.grid(alpha=0.3)
        if key.endswith(("share", "rate")):
            ax.set_ylim(-0.02, 1.02)
    legend = axes[-1]
    legend.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        legend.legend(handles, labels, title=f"{report['by']} / 分组", loc="center")
    else:
        legend.text(0.5, 0.5, "no tickets in this range\n此时间段无工单", ha="center", va="center")
    fig.suptitle(f"GridSight evaluation per {report['by']} and {report['period']} / 处置评估", fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _cjk_font() -> None:
    from matplotlib import font_manager, rcParams

    path = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
    try:
        font_manager.fontManager.addfont(path)
    except (OSError, RuntimeError):
        return
    name = font_manager.FontProperties(fname=path).get_name()
    if name not in rcParams["font.sans-serif"]:
        rcParams["font.sans-serif"] = [name, *rcParams["font.sans-serif"]]
