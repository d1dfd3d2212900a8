"""GET /api/v1/tickets.geojson: the map of open problems, with the ticket list's filters."""

from __future__ import annotations

from tests.interop.conftest import NORTH_WEST, SOUTH_EAST, jpeg


def geo(api, role="viewer", **params):
    r = api.client.get("/api/v1/tickets.geojson", params=params, headers=api.h(role))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    return doc


def numbers(doc) -> set[str]:
    return {f["properties"]["number"] for f in doc["features"]}


def test_features_carry_type_severity_status_grid_and_evidence_link(api):
    t = api.incident("illegal_parking", NORTH_WEST, evidence=jpeg())
    doc = geo(api)
    [f] = doc["features"]
    assert f["type"] == "Feature" and f["id"] == t["number"]
    assert f["geometry"] == {"type": "Point", "coordinates": [NORTH_WEST["lon"], NORTH_WEST["lat"]]}
    p = f["properties"]
    assert (p["issue_type"], p["severity"], p["status"], p["grid_id"]) == \
        ("illegal_parking", "medium", t["status"], "grid-north-west")
    assert p["name_zh"] == "机动车乱停放" and p["department_id"] == "traffic-police"
    assert p["url"] == f"/api/v1/tickets/{t['ticket_id']}"
    img = api.client.get(p["evidence_url"], headers=api.h("viewer"))
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert img.content == jpeg()
    assert doc["truncated"] is False


def test_filters_match_the_ticket_list(api):
    nw_parking = api.incident("illegal_parking", NORTH_WEST)
    se_garbage = api.incident("garbage", SOUTH_EAST, camera_id="cam-se")
    se_fire = api.incident("fire", SOUTH_EAST, camera_id="cam-se")
    api.incident("garbage", None, camera_id="cam-nowhere")  # no location: not on the map
    rejected = api.incident("garbage", NORTH_WEST)
    api.act(rejected["number"], "reject", reason="a shadow, not garbage")

    everything_open = {nw_parking["number"], se_garbage["number"], se_fire["number"]}
    assert numbers(geo(api)) == everything_open  # default: open tickets only
    assert numbers(geo(api, type="garbage")) == {se_garbage["number"]}
    assert numbers(geo(api, grid="grid-south-east")) == {se_garbage["number"], se_fire["number"]}
    assert numbers(geo(api, severity="critical")) == {se_fire["number"]}
    assert numbers(geo(api, camera="cam-se", type=["garbage", "fire"])) == {se_garbage["number"], se_fire["number"]}
    assert numbers(geo(api, department="traffic-police")) == {nw_parking["number"]}
    assert numbers(geo(api, bbox="121.46,31.23,121.47,31.24")) == {nw_parking["number"]}
    assert numbers(geo(api, status="rejected")) == {rejected["number"]}
    assert numbers(geo(api, **{"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"})) == set()

    # the same filters on the ticket list give the same tickets (those with a location)
    listed = api.client.get("/api/v1/tickets", params={"type": "garbage", "status": ["new", "dispatched"]},
                            headers=api.h("viewer")).json()["items"]
    located = {t["number"] for t in listed if t["location"]}
    assert numbers(geo(api, type="garbage", status=["new", "dispatched"])) == located


def test_limit_truncates_newest_first(api):
    made = [api.incident("garbage", NORTH_WEST)["number"] for _ in range(3)]
    doc = geo(api, limit=2)
    assert doc["truncated"] is True
    assert [f["properties"]["number"] for f in doc["features"]] == made[::-1][:2]


def test_scope_auth_and_bad_filters(api):
    parking = api.incident("illegal_parking", SOUTH_EAST)  # traffic-police, south-east grid
    garbage = api.incident("garbage", NORTH_WEST)  # sanitation, north-west grid
    assert numbers(geo(api, role="handler")) == {parking["number"]}  # own department only
    assert numbers(geo(api, role="grid_officer")) == {garbage["number"]}  # own grid only
    assert api.client.get("/api/v1/tickets.geojson").status_code == 401
    assert api.client.get("/api/v1/tickets.geojson", headers=api.h("ingest")).status_code == 403
    r = api.client.get("/api/v1/tickets.geojson", params={"bbox": "1,2,3"}, headers=api.h("viewer"))
    assert r.status_code == 422 and "bbox" in r.text
    r = api.client.get("/api/v1/tickets.geojson", params={"status": "bogus"}, headers=api.h("viewer"))
    assert r.status_code == 422
