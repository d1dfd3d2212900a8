"""No input makes a 500 (issue 15, item 4): non-finite numbers, extreme dates, huge ids, odd digits,
stored bad rows, admin bodies. Each answer must be a 4xx with a reason (a 500 fails the test)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

HUGE = str(2**63)
EXTREME = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def _raw(api, method: str, url: str, user: str, body: str):
    """A JSON body sent as text: NaN, Infinity and 1e999 exactly as an attacker types them."""
    return api.call(method, url, user, content=body, headers={"Content-Type": "application/json"})


def _incident_body(score: str = "0.5", box: str = "[1, 2, 3, 4]", first_seen: str | None = None) -> str:
    seen = f', "first_seen": "{first_seen}"' if first_seen else ""
    return ('{"key": "k-%s", "seq": 1, "issue_type": "illegal_parking", "score": %s%s, '
            '"detections": [{"class_name": "car", "score": 0.5, "box": %s}]}' % (abs(hash(score + box)), score, seen,
                                                                                  box))


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_422_everywhere(api, number):
    t = api.incident()["ticket_id"]
    api.act(t, "dispatch", "dispatcher", department_id="traffic-police")
    answers = {
        "incident score": _raw(api, "POST", "/api/v1/incidents", "ingest", _incident_body(score=number)),
        "incident box": _raw(api, "POST", "/api/v1/incidents", "ingest", _incident_body(box=f"[{number}, 1, 2, 3]")),
        "review": _raw(api, "POST", f"/api/v1/tickets/{t}/review", "operator",
                       '{"verdict": "rejected", "reason": "not_a_problem", "mute_hours": %s}' % number),
        "key": _raw(api, "POST", "/api/v1/admin/keys", "admin", '{"user_id": %s}' % number),
        "dispatch": _raw(api, "POST", f"/api/v1/tickets/{t}/dispatch", "dispatcher", '{"assignee_id": %s}' % number),
        "verification": _raw(api, "POST", f"/api/v1/tickets/{t}/verification", "ingest",
                             '{"camera_id": "cam-01", "outcome": "gone", "score": %s}' % number),
        "zone": _raw(api, "PUT", "/api/v1/cameras/cam-01/zones/z", "admin",
                     '{"kind": "any", "polygon": [[0, 0], [%s, 0], [1, 1]]}' % number),
        "camera options": _raw(api, "PUT", "/api/v1/cameras/cam-x", "admin", '{"options": {"fps": %s}}' % number),
    }
    bad = {k: (r.status_code, r.text[:200]) for k, r in answers.items() if r.status_code != 422}
    assert not bad, bad
    assert api.ticket(t)["status"] == "dispatched"  # nothing was stored


@pytest.mark.parametrize("when", EXTREME)
def test_extreme_dates_are_422(api, when):
    api.incident()
    params = {"from": when}
    for url in ("/api/v1/tickets", "/api/v1/stats", "/api/v1/tickets.geojson", "/api/v1/reports/evaluation"):
        r = api.call("GET", url, "admin", params=params)
        assert r.status_code == 422, (url, r.status_code, r.text[:200])
    assert api.call("GET", "/api/v1/reviews", "admin", params={"since": when}).status_code == 422
    r = _raw(api, "POST", "/api/v1/incidents", "ingest", _incident_body(first_seen=when))
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("ref", ["²", "1" * 5000, "١٢"])
def test_odd_digits_in_ticket_refs_are_404(api, ref):
    t = api.incident()["ticket_id"]
    assert api.call("GET", f"/api/v1/tickets/{ref}", "admin").status_code in (404, 422)
    r = api.call("POST", f"/api/v1/tickets/{t}/duplicate", "operator", json={"duplicate_of": ref[:32]})
    assert r.status_code in (404, 409, 422), r.text


def test_ids_above_2_63_are_422(api):
    t = api.incident()["ticket_id"]
    answers = [
        api.call("GET", f"/api/v1/admin/users/{HUGE}", "admin"),
        api.call("PATCH", f"/api/v1/admin/users/{HUGE}", "admin", json={"display_name": "x"}),
        api.call("DELETE", f"/api/v1/admin/keys/{HUGE}", "admin"),
        api.call("POST", "/api/v1/admin/keys", "admin", json={"user_id": 2**63}),
        api.call("POST", f"/api/v1/tickets/{t}/dispatch", "dispatcher", json={"assignee_id": 2**63}),
        api.call("POST", f"/api/v1/mutes/{HUGE}/lift", "operator"),
        api.call("GET", "/api/v1/reviews", "admin", params={"since": "2026-01-01T00:00:00Z", "after_id": HUGE}),
        api.call("GET", f"/api/v1/tickets/{t}/verifications/{HUGE}/image", "admin"),
        _raw(api, "POST", "/api/v1/incidents", "ingest",
             _incident_body().replace('"box"', '"track_id": %s, "box"' % HUGE)),
    ]
    bad = [(r.request.url.path, r.status_code, r.text[:200]) for r in answers if r.status_code not in (404, 422)]
    assert not bad, bad


def test_a_stored_bad_box_never_breaks_reading_the_ticket(api):
    t = api.incident()["ticket_id"]
    with api.gs.engine.begin() as conn:  # what an older version stored for [NaN, Infinity, 3, 4]
        conn.execute(text("UPDATE tickets SET detections = :d WHERE id = :i"),
                     {"i": t, "d": '[{"class_name": "car", "score": 0.5, "box": [null, null, 3, 4]}]'})
    assert api.call("GET", f"/api/v1/tickets/{t}", "viewer").status_code == 200
    assert api.call("GET", "/api/v1/tickets", "viewer").status_code == 200


def test_admin_bodies_cannot_write_another_object_or_store_junk(api):
    before = api.call("GET", "/api/v1/cameras/cam-01", "admin").json()
    for options in ({"location": "x"}, {"id": "cam-01", "url": "rtsp://evil/"}, {"zones": [{"id": "z"}]}):
        r = api.call("PUT", "/api/v1/cameras/cam-02", "admin", json={"name": "two", "options": options})
        assert r.status_code == 422, r.text
    assert api.call("GET", "/api/v1/cameras/cam-01", "admin").json() == before
    r = api.call("PUT", "/api/v1/cameras/cam-01/zones/a", "admin",
                 json={"kind": "any", "polygon": [[0, 0], [1, 0], [1, 1]], "options": {"id": "b"}})
    assert r.status_code == 422, r.text
    for body in ({"display_name": None}, {"role": None}, {"active": None}):
        r = api.call("PATCH", f"/api/v1/admin/users/{api.users['viewer']}", "admin", json=body)
        assert r.status_code == 422, (body, r.text)


def test_open311_odd_input_is_a_4xx(api):
    api.incident()
    key = api.keys["viewer"]
    base = "/open311/v2"
    for url, params in ((f"{base}/requests/².json", {}), (f"{base}/requests.json", {"page": HUGE}),
                        (f"{base}/requests.json", {"start_date": EXTREME[0]}),
                        (f"{base}/requests.json", {"end_date": EXTREME[1]})):
        r = api.client.get(url, params={**params, "api_key": key})
        assert 400 <= r.status_code < 500, (url, params, r.status_code, r.text[:200])
