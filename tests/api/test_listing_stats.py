"""Ticket lists (filters, bbox, time range, sort, pagination) and /stats."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.conftest import NW, SE


def ids(r) -> list[int]:
    assert r.status_code == 200, r.text
    return [t["id"] for t in r.json()["items"]]


@pytest.fixture
def city(api):
    """Six tickets at known places, times and states; returns their ids by name."""
    t = {}
    t["park_nw"] = api.incident(key="1", location=NW, camera_id="cam-a")["ticket_id"]
    api.clock.advance(timedelta(hours=1))
    t["park_se"] = api.incident(key="2", location=SE, camera_id="cam-b")["ticket_id"]
    api.clock.advance(timedelta(hours=1))
    t["garbage_nw"] = api.incident(key="3", issue_type="garbage", location=NW, camera_id="cam-a")["ticket_id"]
    api.clock.advance(timedelta(hours=1))
    t["water_se"] = api.incident(key="4", issue_type="waterlogging", location=SE, camera_id="cam-b")["ticket_id"]
    api.clock.advance(timedelta(days=1))
    t["fire_nw"] = api.incident(key="5", issue_type="fire", location=NW, camera_id="cam-c")["ticket_id"]
    api.clock.advance(timedelta(days=1))
    t["smoke_far"] = api.incident(key="6", issue_type="smoke", location={"lat": 40.0, "lon": 116.4})["ticket_id"]
    return t


def test_filters(api, city):
    get = lambda **p: ids(api.call("GET", "/api/v1/tickets", "viewer", params=p))  # noqa: E731
    assert get() == [city[k] for k in ("smoke_far", "fire_nw", "water_se", "garbage_nw", "park_se", "park_nw")]
    assert set(get(type="illegal_parking")) == {city["park_nw"], city["park_se"]}
    assert set(get(type=["garbage", "fire"])) == {city["garbage_nw"], city["fire_nw"]}
    assert get(status="dispatched") == [city["fire_nw"]]  # fire is auto-dispatched
    assert set(get(grid="grid-south-east")) == {city["park_se"], city["water_se"]}
    assert set(get(department="fire-rescue")) == {city["fire_nw"], city["smoke_far"]}
    assert set(get(camera="cam-a")) == {city["park_nw"], city["garbage_nw"]}
    assert set(get(severity=["high", "critical"])) == {city["water_se"], city["fire_nw"], city["smoke_far"]}
    # time range on created_at: [from, to)
    assert set(get(**{"from": "2026-03-02T09:00:00Z", "to": "2026-03-02T11:00:00Z"})) == \
        {city["park_se"], city["garbage_nw"]}
    # bbox: min_lon,min_lat,max_lon,max_lat
    assert set(get(bbox="121.46,31.23,121.475,31.24")) == {city["park_nw"], city["garbage_nw"], city["fire_nw"]}
    assert get(bbox="0,0,1,1") == []
    assert set(get(status=["new", "dispatched"], grid="grid-north-west", type="fire")) == {city["fire_nw"]}


def test_sort_and_pagination(api, city):
    def page(**p):
        r = api.call("GET", "/api/v1/tickets", "viewer", params=p)
        return ids(r), r.json()["total"]

    first, total = page(limit=4, sort="created_at")
    second, total2 = page(limit=4, offset=4, sort="created_at")
    assert total == total2 == 6 and len(first) == 4 and len(second) == 2
    assert first + second == sorted(city.values())
    assert page(sort="-severity", limit=1)[0] == [city["fire_nw"]]  # the only critical one
    sev = [api.ticket(i)["severity"] for i in page(sort="-severity")[0]]
    order = ["critical", "high", "medium", "low"]
    assert sev == sorted(sev, key=order.index)
    assert page(sort="due_at", limit=1)[0] == [city["water_se"]]  # created 11:00, 4 h SLA
    assert page(sort="-id", limit=2, offset=1)[0] == [city["fire_nw"], city["water_se"]]


def test_total_is_counted_a_fixed_distance_past_the_offset(api, city, monkeypatch):
    import api.services.tickets as tickets

    monkeypatch.setattr(tickets, "COUNT_AHEAD", 2)

    def page(**p):
        body = api.call("GET", "/api/v1/tickets", "viewer", params=p).json()
        return len(body["items"]), body["total"], body["total_exact"]

    assert page(limit=1) == (1, 2, False)  # 6 match: "2 or more" seen from the first page
    assert page(limit=1, offset=2) == (1, 4, False)  # the count moves with the offset, never below it
    assert page(limit=1, offset=3) == (1, 5, False)
    assert page(limit=1, offset=4) == (1, 6, True)  # counting stopped short of the cap: exact
    assert page(limit=4, offset=4) == (2, 6, True)  # a short last page is exact without counting


BAD_PARAMETERS = [
    ({"status": "open"}, "status"), ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset"),
    ({"sort": "colour"}, "sort"), ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "5,0,1,1"}, "bbox"),
    ({"from": "yesterday"}, "from"), ({"from": "2026-03-02T09:00:00"}, "from"),
    ({"from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"}, "to"), ({"overdue": "maybe"}, "overdue"),
    ({"severity": "apocalyptic"}, "severity"),
]


def test_bad_list_parameters_are_422(api):
    for params, field in BAD_PARAMETERS:
        r = api.call("GET", "/api/v1/tickets", "viewer", params=params)
        assert r.status_code == 422, (params, r.text)
        assert any(field in map(str, e["loc"]) for e in r.json()["detail"]), (params, r.json())


def test_stats(api, city):
    c = city
    api.clock.advance(timedelta(minutes=10))
    api.act(c["park_nw"], "dispatch")  # dispatched 2 days 3 h 10 min after creation
    api.act(c["park_nw"], "start")
    api.act(c["park_nw"], "resolve")  # late: medium SLA is 24 h
    api.act(c["fire_nw"], "start")
    api.act(c["fire_nw"], "resolve")  # late too (30 min SLA)
    api.act(c["fire_nw"], "reopen")
    api.act(c["smoke_far"], "dispatch")  # 10 min after creation
    api.act(c["smoke_far"], "start")
    api.act(c["smoke_far"], "resolve")  # 10 min after creation: on time (4 h)
    api.act(c["garbage_nw"], "reject", reason="a parked bin")
    api.act(c["water_se"], "duplicate", duplicate_of=str(c["park_se"]))
    for user, rating in (("operator", 4), ("grid_officer", 2)):
        api.call("POST", f"/api/v1/tickets/{c['park_nw']}/feedback", user, data={"rating": str(rating)})
    s = api.call("GET", "/api/v1/stats", "viewer").json()
    assert s["total"] == 6
    assert s["by_status"] == {"resolved": 2, "reopened": 1, "rejected": 1, "duplicate": 1, "new": 1}
    assert s["by_type"]["illegal_parking"] == 2 and s["by_grid"]["none"] == 1
    assert s["by_department"] == {"traffic-police": 2, "sanitation": 1, "water-affairs": 1, "fire-rescue": 2}
    assert s["by_period"] == {"2026-03-02": 4, "2026-03-03": 1, "2026-03-04": 1}
    # dispatch: park_nw 2d 3h 10min, smoke_far 10 min, fire_nw auto-dispatched at creation (0 s)
    assert s["mean_time_to_dispatch_s"] == pytest.approx((2 * 86400 + 3 * 3600 + 600 + 600) / 3, abs=1)
    # resolve (resolved_at kept): park_nw 2d 3h 10m, smoke_far 10 min; fire_nw was reopened (cleared)
    assert s["mean_time_to_resolve_s"] == pytest.approx((2 * 86400 + 3 * 3600 + 600 + 600) / 2, abs=1)
    assert s["sla_compliance"] == 0.5
    assert s["reopen_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert s["false_positive_rate"] == pytest.approx(1 / 5, abs=1e-3)
    assert s["mean_rating"] == 3.0 and s["ratings"] == 2
    weekly = api.call("GET", "/api/v1/stats", "viewer", params={"period": "week"}).json()
    assert weekly["by_period"] == {"2026-W10": 6}
    only_nw = api.call("GET", "/api/v1/stats", "viewer", params={"grid": "grid-north-west"}).json()
    assert only_nw["total"] == 3 and only_nw["mean_rating"] == 3.0
    assert api.call("GET", "/api/v1/stats", "viewer", params={"period": "year"}).status_code == 422
