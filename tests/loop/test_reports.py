"""The evaluation report per department / grid and per period, as JSON and as a PNG chart,
computed from a known history of tickets (injected clock)."""

from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from tests.api.conftest import NW, SE
from tests.loop.test_verification_api import report

H = timedelta(hours=1)


def _story(api) -> dict:
    """Week 2026-W10 (traffic police, grid north-west): verified by camera (rated 4), reopened, rejected.
    Week 2026-W11 (sanitation, grid south-east): verified by a person."""
    start = api.clock.now()
    t1 = api.incident(key="r1", location=NW)["ticket_id"]
    t2 = api.incident(key="r2", location=NW)["ticket_id"]
    t3 = api.incident(key="r3", location=NW)["ticket_id"]
    api.clock.advance(H)
    for t in (t1, t2):
        api.act(t, "dispatch")
        api.act(t, "start")
    api.clock.advance(2 * H)
    api.act(t1, "resolve")
    t = api.ticket(t1)
    r = report(api, t1, {"camera_id": "cam-01", "outcome": "gone", "resolved_at": t["resolved_at"], "frames": 10})
    assert r.json()["ticket"]["status"] == "verified"
    r = api.call("POST", f"/api/v1/tickets/{t1}/feedback", "operator", data={"rating": "4"})
    assert r.status_code == 201, r.text
    api.act(t2, "resolve")
    api.act(t2, "reopen", "grid_officer")
    r = api.call("POST", f"/api/v1/tickets/{t3}/review", "operator", json={"verdict": "rejected",
                                                                           "reason": "not_a_problem"})
    assert r.status_code == 200
    api.clock.advance(8 * 24 * H)
    t4 = api.incident(key="r4", issue_type="garbage", camera_id="cam-02", location=SE)["ticket_id"]
    api.clock.advance(H / 2)
    api.act(t4, "dispatch")
    api.act(t4, "start")
    api.clock.advance(H)
    api.act(t4, "resolve")
    api.act(t4, "verify", "dispatcher")
    return {"from": start.isoformat(), "to": (api.clock.now() + H).isoformat()}


def test_report_numbers_per_department_and_week(api):
    span = _story(api)
    r = api.call("GET", "/api/v1/reports/evaluation", "viewer", params={**span, "by": "department", "period": "week"})
    assert r.status_code == 200, r.text
    rows = {(x["period"], x["group"]): x for x in r.json()["rows"]}
    assert set(rows) == {("2026-W10", "traffic-police"), ("2026-W11", "sanitation")}
    tp = rows[("2026-W10", "traffic-police")]
    assert tp == {"period": "2026-W10", "group": "traffic-police", "tickets": 3, "mean_time_to_dispatch_h": 1.0,
                  "mean_time_to_fix_h": 2.0, "verified": 1, "verified_by_camera": 1, "verified_by_camera_share": 1.0,
                  "reopen_rate": 0.5, "false_positive_rate": 0.3333, "mean_rating": 4.0, "ratings": 1}
    sa = rows[("2026-W11", "sanitation")]
    assert (sa["tickets"], sa["mean_time_to_dispatch_h"], sa["mean_time_to_fix_h"]) == (1, 0.5, 1.0)
    assert (sa["verified_by_camera_share"], sa["reopen_rate"], sa["false_positive_rate"], sa["mean_rating"]) == (
        0.0, 0.0, 0.0, None)
    total = r.json()["total"]
    assert total["tickets"] == 4 and total["verified"] == 2 and total["verified_by_camera_share"] == 0.5

    by_grid = api.call("GET", "/api/v1/reports/evaluation", "viewer",
                       params={**span, "by": "grid", "period": "month"}).json()
    assert {g: v["tickets"] for g, v in by_grid["groups"].items()} == {"grid-north-west": 3, "grid-south-east": 1}
    assert {x["period"] for x in by_grid["rows"]} == {"2026-03"}
    # scope: a handler's report covers its own department only
    mine = api.call("GET", "/api/v1/reports/evaluation", "handler", params=span).json()
    assert set(mine["groups"]) == {"traffic-police"}
    assert api.call("GET", "/api/v1/reports/evaluation", "ingest").status_code == 403
    assert api.call("GET", "/api/v1/reports/evaluation", "viewer", params={"by": "street"}).status_code == 422


def test_report_chart_is_a_png(api):
    span = _story(api)
    r = api.call("GET", "/api/v1/reports/evaluation.png", "viewer", params={**span, "period": "day"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.format == "PNG" and img.size == (1600, 800)
    assert len(set(img.convert("L").getdata())) > 20  # drawn, not blank
    empty = api.call("GET", "/api/v1/reports/evaluation.png", "viewer",
                     params={"from": "2020-01-01T00:00:00Z", "to": "2020-01-02T00:00:00Z"})
    assert empty.status_code == 200 and Image.open(io.BytesIO(empty.content)).size == (1600, 800)
    doc = api.call("GET", "/openapi.json").json()["paths"]["/api/v1/reports/evaluation.png"]["get"]
    assert "image/png" in doc["responses"]["200"]["content"]



def test_chart_is_readable_with_little_data():
    """One week, two departments with equal values: a panel per metric with data only, axes from the
    data (never +-0.04 around one value), both series drawn (offset, own markers)."""
    from api.services.reports import chart_png, metrics_with_data, y_limits

    rows = [{"period": "2026-W10", "group": g, "tickets": 3, "mean_time_to_dispatch_h": 1.0,
             "mean_time_to_fix_h": None, "verified_by_camera_share": None, "reopen_rate": 0.0,
             "false_positive_rate": 1 / 3, "mean_rating": None} for g in ("sanitation", "traffic-police")]
    report = {"by": "department", "period": "week", "rows": rows}
    assert metrics_with_data(report) == ["tickets", "mean_time_to_dispatch_h", "reopen_rate", "false_positive_rate"]
    assert y_limits("tickets", [3, 3]) == (2.0, 4.0)
    lo, hi = y_limits("false_positive_rate", [1 / 3])
    assert 0 < lo < 1 / 3 < hi < 1 and hi - lo >= 0.2
    lo, hi = y_limits("reopen_rate", [0.0])
    assert -0.05 < lo < 0 and 0.05 < hi <= 0.11  # a marker on 0 stays whole; no empty 0..1 axis
    assert y_limits("verified_by_camera_share", [1.0])[1] <= 1.05
    assert y_limits("mean_rating", [4.0, 4.0])[0] >= 3.0
    img = Image.open(io.BytesIO(chart_png(report)))
    assert img.size == (1600, 800)
    rgb = img.convert("RGB")
    colours = {rgb.getpixel((x, y)) for x in range(0, 1600, 2) for y in range(0, 800, 2)}
    blue, orange = (31, 119, 180), (255, 127, 14)  # the two series' colours (matplotlib's first two)
    assert any(max(abs(a - b) for a, b in zip(c, blue)) < 30 for c in colours)
    assert any(max(abs(a - b) for a, b in zip(c, orange)) < 30 for c in colours)
