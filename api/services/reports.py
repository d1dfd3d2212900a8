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


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
UNITS = {"tickets": 1.0, "mean_time_to_dispatch_h": 0.5, "mean_time_to_fix_h": 0.5, "mean_rating": 0.5}
RATE_UNIT = 0.1  # shares and rates: the smallest span an axis shows (10 points)
BOUNDS = {"mean_rating": (1.0, 5.0)}  # what a metric can be; rates and shares (0, 1), the rest (0, none)


def y_limits(key: str, values: list[float]) -> tuple[float, float]:
    """The y range of one panel, from its data: the values' span padded, at least a unit wide (a
    single value or equal values never get a +-0.04 axis), reaching past what the metric can be
    (below 0, above 100 %) only by a small margin that keeps markers on the bound whole."""
    lo, hi = min(values), max(values)
    rate = key.endswith(("share", "rate"))
    floor, ceil = BOUNDS.get(key, (0.0, 1.0 if rate else None))
    unit = RATE_UNIT if rate else UNITS.get(key, 1.0)
    pad = max((hi - lo) * 0.15, unit, 0.0 if rate else abs(hi) * 0.1)
    lo, hi = lo - pad, hi + pad
    if lo < floor:
        lo = floor - pad * 0.3
    if ceil is not None and hi > ceil:
        hi = ceil + pad * 0.3
    return lo, hi


def metrics_with_data(report: dict) -> list[str]:
    """The metrics the chart draws a panel for: those with a value in some row."""
    return [key for key in METRICS if any(r.get(key) is not None for r in report["rows"])]


def chart_png(report: dict, *, dpi: int = 100) -> bytes:
    """The report's metrics per period as a PNG (1600 x 800 at 100 dpi): one panel per metric that
    has data, one series per group. Each group has its own marker, line style and a small sideways
    offset, so equal values of two groups stay visible; with few periods each point is labelled."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator, PercentFormatter

    _cjk_font()
    periods = sorted({r["period"] for r in report["rows"]})
    groups = sorted({r["group"] for r in report["rows"]})
    values = {(r["period"], r["group"]): r for r in report["rows"]}
    panels = [(key, METRICS[key]) for key in metrics_with_data(report)]
    fig = Figure(figsize=(16, 8), dpi=dpi)
    FigureCanvasAgg(fig)
    title = f"GridSight evaluation per {report['by']} and {report['period']} / 处置评估"
    if not panels:
        fig.suptitle(title, fontsize=13)
        fig.text(0.5, 0.5, "no tickets in this range\n此时间段无工单", ha="center", va="center", fontsize=16)
        return _png(fig)
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    x = list(range(len(periods)))
    width = min(0.3, 0.08 * len(groups))  # the spread of one period's points
    label_points = len(periods) <= 3
    for ax, (key, (en, zh)) in zip(axes, panels):
        seen = []
        for gi, g in enumerate(groups):
            offset = (gi - (len(groups) - 1) / 2) * (width / max(1, len(groups) - 1)) if len(groups) > 1 else 0.0
            ys = [values.get((p, g), {}).get(key) for p in periods]
            xs = [i + offset for i in x]
            ax.plot(xs, [float("nan") if y is None else y for y in ys], marker=MARKERS[gi % len(MARKERS)],
                    linestyle=LINESTYLES[gi % len(LINESTYLES)], markersize=8, linewidth=1.8, alpha=0.9,
                    markerfacecolor="white" if gi % 2 else None, markeredgewidth=1.8, label=g)
            for xi, y in zip(xs, ys):
                if y is None:
                    continue
                seen.append(y)
                if label_points:
                    text = f"{y:.0%}" if key.endswith(("share", "rate")) else f"{y:g}"
                    ax.annotate(text, (xi, y), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
        ax.set_title(f"{en} {zh}", fontsize=10)
        ax.set_xticks(x, periods, rotation=30 if len(periods) > 4 else 0, ha="right" if len(periods) > 4 else "center",
                      fontsize=8)
        ax.set_xlim(-0.5, len(periods) - 0.5)
        ax.set_ylim(*y_limits(key, seen))
        if key == "tickets":
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        floor, ceil = BOUNDS.get(key, (0.0, 1.0 if key.endswith(("share", "rate")) else None))
        ax.set_yticks([t for t in ax.get_yticks() if floor <= t and (ceil is None or t <= ceil + 1e-9)])
        if key.endswith(("share", "rate")):
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.remove()
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, title=f"{report['by']} / 分组", loc="upper right", ncols=min(len(labels), 6),
               fontsize=9, title_fontsize=9)
    missing = [f"{en} {zh}" for key, (en, zh) in METRICS.items() if key not in dict(panels)]
    if missing:
        fig.text(0.01, 0.01, "no data yet / 暂无数据: " + ", ".join(missing), fontsize=8, color="0.4")
    fig.suptitle(title, fontsize=13, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0.03, 1, 0.93))
    return _png(fig)


def _png(fig) -> bytes:
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
