"""Open311 GeoReport v2: services from configs/issues.yaml, requests round trip, statuses mapped."""

from __future__ import annotations

import io
import logging

import pytest
import yaml
from PIL import Image

from gridsight.paths import CONFIGS_DIR
from tests.interop.conftest import NORTH_WEST, SOUTH_EAST, jpeg

BASE = "/open311/v2"


def file_request(api, role="operator", **fields):
    form = {"api_key": api.keys[role], "service_code": "garbage", "lat": str(NORTH_WEST["lat"]),
            "long": str(NORTH_WEST["lon"]), "address_string": "1 North-west Road",
            "description": "Overflowing bins next to the bus stop", **fields}
    return api.client.post(f"{BASE}/requests.json", data={k: v for k, v in form.items() if v is not None})


def get_requests(api, role="viewer", **params):
    r = api.client.get(f"{BASE}/requests.json", params={"api_key": api.keys[role], **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_services_are_the_issue_types(api):
    issue_types = yaml.safe_load((CONFIGS_DIR / "issues.yaml").read_text())["issue_types"]
    r = api.client.get(f"{BASE}/services.json")
    assert r.status_code == 200
    services = {s["service_code"]: s for s in r.json()}
    assert set(services) == set(issue_types)
    for code, t in issue_types.items():
        s = services[code]
        assert s["service_name"] == t["name_en"] and s["group"] == t["category"]
        assert t["name_zh"] in s["description"] and s["metadata"] is False and s["type"] == "realtime"
    assert api.client.get(f"{BASE}/services/garbage.json").json() == {"service_code": "garbage", "attributes": []}
    assert api.client.get(f"{BASE}/services/nope.json").status_code == 404


def test_filed_request_round_trips_through_the_ticket_lifecycle(api):
    r = file_request(api)
    assert r.status_code == 201, r.text
    [answer] = r.json()
    number = answer["service_request_id"]
    assert number.startswith("GS-")

    # it is a real ticket: in the ticket API, routed to the department and grid
    ticket = api.client.get(f"/api/v1/tickets/{number}", headers=api.h("viewer")).json()
    assert (ticket["issue_type"], ticket["source"], ticket["grid_id"], ticket["department_id"]) == \
        ("garbage", "upload", "grid-north-west", "sanitation")

    [req] = api.client.get(f"{BASE}/requests/{number}.json", params={"api_key": api.keys["viewer"]}).json()
    assert req["service_request_id"] == number and req["service_code"] == "garbage"
    assert req["status"] == "open" and req["status_notes"] == ticket["status"].replace("_", " ")
    # the reporter's own words are private (operators, dispatchers, admins); others read the type
    assert req["description"] == "Exposed garbage / 暴露垃圾 reported by a citizen"
    [mine] = get_requests(api, role="operator", service_request_id=number)
    assert mine["description"] == "Overflowing bins next to the bus stop"
    assert req["agency_responsible"] == "Sanitation Department"
    assert (req["lat"], req["long"], req["address"]) == (NORTH_WEST["lat"], NORTH_WEST["lon"], "1 North-west Road")
    assert req["requested_datetime"] == ticket["created_at"] and req["expected_datetime"] == ticket["due_at"]
    assert req["media_url"] is None

    if ticket["status"] == "new":
        api.act(number, "dispatch")
    api.act(number, "start")
    [req] = get_requests(api, service_request_id=number)
    assert (req["status"], req["status_notes"]) == ("open", "in progress")
    api.act(number, "resolve", note="bins emptied")
    [req] = get_requests(api, service_request_id=number)
    assert (req["status"], req["status_notes"]) == ("closed", "resolved")


def test_rejected_and_camera_tickets_map_to_closed_and_media_url(api, detector):
    api.app.state.gs.detector = detector
    camera = api.incident("illegal_parking", SOUTH_EAST, evidence=jpeg())
    bogus = api.incident("garbage", NORTH_WEST)
    api.act(bogus["number"], "reject", reason="a shadow, not garbage")

    [req] = get_requests(api, service_request_id=bogus["number"])
    assert (req["status"], req["status_notes"]) == ("closed", "rejected: a shadow, not garbage")
    [req] = get_requests(api, service_request_id=camera["number"])
    assert req["status"] == "open" and req["agency_responsible"] == "Traffic Police"
    assert "seen by camera cam-t" in req["description"]
    # the public rendition (no key), never the stored frame itself
    assert req["media_url"].startswith("http://testserver/open311/v2/media/") and req["media_url"].endswith(".jpg")
    img = api.client.get(req["media_url"])
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg"
    assert img.content != jpeg() and Image.open(io.BytesIO(img.content)).size == (64, 48)
    # public reads off: today's keyed evidence URL
    api.app.state.gs.settings.open311_public_reads = False
    [req] = get_requests(api, service_request_id=camera["number"])
    assert req["media_url"].startswith("http://testserver/api/v1/tickets/")
    assert api.client.get(req["media_url"], headers=api.h("viewer")).content == jpeg()


def test_requests_filters(api):
    garbage = file_request(api).json()[0]["service_request_id"]
    fire = file_request(api, service_code="fire", lat=str(SOUTH_EAST["lat"]), long=str(SOUTH_EAST["lon"])
                        ).json()[0]["service_request_id"]
    closed = api.incident("garbage", NORTH_WEST)["number"]
    api.act(closed, "reject", reason="nothing there")

    ids = lambda reqs: {r["service_request_id"] for r in reqs}  # noqa: E731
    assert ids(get_requests(api)) == {garbage, fire, closed}
    assert ids(get_requests(api, service_code="fire")) == {fire}
    assert ids(get_requests(api, service_code="fire,garbage")) == {garbage, fire, closed}
    assert ids(get_requests(api, status="open")) == {garbage, fire}
    assert ids(get_requests(api, status="closed")) == {closed}
    assert ids(get_requests(api, service_request_id=f"{fire},{closed},GS-2026-999999")) == {fire, closed}
    assert ids(get_requests(api, start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00Z")) == set()
    assert ids(get_requests(api, start_date="2000-01-01T00:00:00Z")) == {garbage, fire, closed}
    page1 = get_requests(api, page_size=2, page=1)
    page2 = get_requests(api, page_size=2, page=2)
    assert len(page1) == 2 and len(page2) == 1 and ids(page1) | ids(page2) == {garbage, fire, closed}
    # scope: a grid officer of the north-west grid sees its grid's requests only
    assert ids(get_requests(api, role="grid_officer")) == {garbage, closed}


def test_errors_follow_the_open311_shape(api):
    def err(r, code, *words):
        assert r.status_code == code, r.text
        [e] = r.json()
        assert e["code"] == code and all(w in e["description"] for w in words), e

    err(file_request(api, service_code=None), 400, "service_code is required")
    err(file_request(api, service_code="potholes"), 400, "unknown service_code")
    err(file_request(api, lat=None, long=None, address_string=None), 400, "location is required")
    err(file_request(api, lat=None, long=None), 400, "send lat and long")
    err(file_request(api, lat="north"), 400, "numbers")
    err(file_request(api, lat="123"), 400, "lat")
    err(file_request(api, api_key=None), 401, "api_key")
    err(file_request(api, api_key="gsk_wrong"), 401, "invalid")
    err(file_request(api, role="viewer"), 403, "viewer")
    api.app.state.gs.settings.open311_public_reads = False  # reads need a key then
    err(api.client.get(f"{BASE}/requests.json"), 401, "api_key")
    err(api.client.get(f"{BASE}/requests/GS-2026-000001.json"), 401, "api_key")
    api.app.state.gs.settings.open311_public_reads = True
    err(api.client.get(f"{BASE}/requests.json", params={"api_key": api.keys["ingest"]}), 403, "ingest")
    err(api.client.get(f"{BASE}/requests/GS-2026-999999.json", params={"api_key": api.keys["viewer"]}), 404, "no ticket")
    err(api.client.get(f"{BASE}/requests.json", params={"api_key": api.keys["viewer"], "status": "pending"}), 400, "status")
    err(api.client.get(f"{BASE}/requests.json", params={"api_key": api.keys["viewer"], "start_date": "yesterday"}),
        400, "W3C")
    err(api.client.get(f"{BASE}/requests.json", params={"api_key": api.keys["viewer"], "service_code": "x"}),
        400, "unknown service_code")
    # nothing was stored by the refused posts
    assert get_requests(api) == []
    # the usual header works as well as api_key
    assert api.client.get(f"{BASE}/requests.json", headers=api.h("viewer")).status_code == 200


def test_xml_format_mirrors_json(api):
    from xml.etree import ElementTree as ET

    r = api.client.get(f"{BASE}/services.xml")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    assert r.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(r.content)
    assert root.tag == "services"
    codes = [s.findtext("service_code") for s in root.findall("service")]
    assert codes == [s["service_code"] for s in api.client.get(f"{BASE}/services.json").json()]
    assert root.find("service/metadata").text == "false"

    r = api.client.post(f"{BASE}/requests.xml", data={"api_key": api.keys["operator"], "service_code": "garbage",
                                                      "lat": "31.235", "long": "121.465", "description": "垃圾桶满了"})
    assert r.status_code == 201, r.text
    number = ET.fromstring(r.content).findtext("request/service_request_id")
    assert number.startswith("GS-")
    req = ET.fromstring(api.client.get(f"{BASE}/requests/{number}.xml", params={"api_key": api.keys["operator"]}).content)
    assert req.tag == "service_requests"
    assert req.findtext("request/status") == "open" and req.findtext("request/description") == "垃圾桶满了"
    assert req.find("request/media_url").text is None  # null: an empty element
    listed = ET.fromstring(api.client.get(f"{BASE}/requests.xml", params={"api_key": api.keys["viewer"]}).content)
    assert [e.text for e in listed.findall("request/service_request_id")] == [number]

    r = api.client.get(f"{BASE}/requests/GS-2026-999999.xml", params={"api_key": api.keys["viewer"]})
    assert r.status_code == 404
    err = ET.fromstring(r.content)
    assert err.tag == "errors" and err.findtext("error/code") == "404" and "no ticket" in err.findtext("error/description")
    r = api.client.get(f"{BASE}/services.csv")
    assert r.status_code == 404 and ".json or .xml" in r.json()[0]["description"]


def test_discovery_points_at_georeport_v2(api):
    from xml.etree import ElementTree as ET

    doc = api.client.get("/open311/discovery.json").json()
    [endpoint] = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "http://testserver/open311/v2" and "text/xml" in endpoint["formats"]
    assert api.client.get(endpoint["url"] + "/services.json").status_code == 200
    xml = ET.fromstring(api.client.get("/open311/discovery.xml").content)
    assert xml.findtext("endpoints/endpoint/url") == endpoint["url"]
    assert [f.text for f in xml.findall("endpoints/endpoint/formats/format")] == endpoint["formats"]


CONTACT = {"first_name": "Meixiang", "last_name": "Chenwright", "email": "meixiang.chenwright@example.org",
           "phone": "+86 21 5555 0101", "description": "Bags dumped behind the kiosk again"}


def test_the_reporter_is_shown_to_operators_and_nobody_else(api, caplog):
    from tests.push.test_push import Receiver

    caplog.set_level(logging.DEBUG)  # every logger, every level
    receiver = Receiver()  # a webhook subscriber of every event: what push sends (MQTT carries the same bodies)
    try:
        r = api.client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": "s" * 24}, headers=api.h("admin"))
        assert r.status_code == 201, r.text
        number = file_request(api, **CONTACT).json()[0]["service_request_id"]
        api.act(number, "dispatch")
        assert api.notifier.flush(10)
    finally:
        receiver.close()
    pushed = [req["body"].decode() for req in receiver.requests]
    assert len(pushed) >= 2 and all(number in body for body in pushed)
    private = list(CONTACT.values())

    def leaks(text: str) -> list[str]:
        return [v for v in private if v in text]

    assert leaks("\n".join(pushed)) == []
    for role in ("operator", "dispatcher", "admin"):
        r = api.client.get(f"/api/v1/tickets/{number}/reporter", headers=api.h(role))
        assert r.status_code == 200, r.text
        assert {k: r.json()[k] for k in CONTACT} == CONTACT
    for role in ("viewer", "handler", "grid_officer", "ingest"):
        r = api.client.get(f"/api/v1/tickets/{number}/reporter", headers=api.h(role))
        assert r.status_code == 403 and "reporter.read" in r.json()["detail"]
    assert api.client.get(f"/api/v1/tickets/{number}/reporter").status_code == 401
    # an operator's Open311 read shows the reporter's words, never their name or contact
    [mine] = get_requests(api, role="operator", service_request_id=number)
    assert leaks(str(mine)) == [CONTACT["description"]]

    seen = [api.client.get(f"{BASE}/requests.json").text, api.client.get(f"{BASE}/requests/{number}.xml").text,
            api.client.get(f"{BASE}/requests.xml", params={"api_key": api.keys["viewer"]}).text]
    for path in (f"/api/v1/tickets/{number}", f"/api/v1/tickets/{number}/history", "/api/v1/tickets",
                 "/api/v1/tickets.geojson"):
        r = api.client.get(path, headers=api.h("viewer"))
        assert r.status_code == 200, path
        seen.append(r.text)
    for text in seen:
        assert leaks(text) == []
    # logs: nothing of it in any record, message or extra field
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert leaks(logged) == []


def test_public_reads_show_public_requests_and_fields(api):
    settings = api.app.state.gs.settings
    camera = api.incident("illegal_parking", SOUTH_EAST)["number"]
    citizen = file_request(api, **CONTACT).json()[0]["service_request_id"]
    rejected = api.incident("garbage", NORTH_WEST)["number"]
    api.act(rejected, "reject", reason="the caretaker's own bins")

    def public(**params) -> dict:
        r = api.client.get(f"{BASE}/requests.json", params=params)
        assert r.status_code == 200, r.text
        return {q["service_request_id"]: q for q in r.json()}

    shown = public()
    assert set(shown) == {camera, citizen, rejected}  # camera and citizen tickets alike
    assert shown[rejected]["status_notes"] == "rejected"  # the operator's reason is not public
    assert shown[citizen]["description"] == "Exposed garbage / 暴露垃圾 reported by a citizen"
    assert "seen by camera cam-t" in shown[camera]["description"]
    for ref in (camera, citizen):  # one by one, too
        assert api.client.get(f"{BASE}/requests/{ref}.json").json() == [shown[ref]]

    settings.open311_public_sources = ["upload"]
    assert set(public()) == {citizen}
    assert set(public(service_request_id=f"{camera},{citizen}")) == {citizen}
    r = api.client.get(f"{BASE}/requests/{camera}.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert {q["service_request_id"] for q in get_requests(api)} == {camera, citizen, rejected}  # a key sees all
    settings.open311_public_issue_types = ["fire"]
    assert public() == {}
    settings.open311_public_sources, settings.open311_public_issue_types = ["camera", "upload", "batch"], []
    settings.open311_public_description = True
    assert public()[citizen]["description"] == CONTACT["description"]
    assert CONTACT["email"] not in str(public())


def test_public_media_links_are_long_lived_and_revocable(api, detector):
    api.app.state.gs.detector = detector
    settings = api.app.state.gs.settings
    number = api.incident("illegal_parking", SOUTH_EAST, evidence=jpeg())["number"]
    url = api.client.get(f"{BASE}/requests/{number}.json").json()[0]["media_url"]
    assert api.client.get(url).status_code == 200
    again = api.client.get(f"{BASE}/requests/{number}.json").json()[0]["media_url"]
    assert again == url  # one token per ticket, kept

    revoke = f"/api/v1/tickets/{number}/public-media/revoke"
    assert api.client.post(revoke, headers=api.h("operator")).status_code == 403
    assert api.client.post(revoke, headers=api.h("admin")).json() == {"ticket": number, "revoked": True,
                                                                       "media_url": None}
    gone = api.client.get(url)
    assert gone.status_code == 404 and "no public image" in gone.json()[0]["description"]
    assert api.client.get(f"{BASE}/requests/{number}.json").json()[0]["media_url"] is None
    [keyed] = get_requests(api, service_request_id=number)  # raw stays behind roles
    assert keyed["media_url"].startswith("http://testserver/api/v1/tickets/")
    assert api.client.get(keyed["media_url"]).status_code == 401

    renewed = api.client.post(f"/api/v1/tickets/{number}/public-media/renew", headers=api.h("admin")).json()
    assert renewed["revoked"] is False and renewed["media_url"] != url
    assert api.client.get(renewed["media_url"]).status_code == 200 and api.client.get(url).status_code == 404
    assert api.client.get(f"{BASE}/requests/{number}.json").json()[0]["media_url"] == renewed["media_url"]
    # no longer public: the link stops working (and works again when it is public again)
    settings.open311_public_issue_types = ["garbage"]
    assert api.client.get(renewed["media_url"]).status_code == 404
    settings.open311_public_issue_types = []
    assert api.client.get(renewed["media_url"]).status_code == 200
    api.act(number, "reject", reason="not parked, loading")
    assert api.client.get(renewed["media_url"]).status_code == 404


def test_a_posted_photo_is_judged_onto_its_own_ticket(api, detector, shared_data):
    import cv2

    from tests.training.test_shipped_model import largest_fire_frame

    api.app.state.gs.detector = detector
    photo = cv2.imencode(".jpg", largest_fire_frame(shared_data))[1].tobytes()
    form = {"api_key": api.keys["operator"], "service_code": "smoke", "lat": str(NORTH_WEST["lat"]),
            "long": str(NORTH_WEST["lon"])}
    r = api.client.post(f"{BASE}/requests.json", data=form, files={"media": ("fire.jpg", photo, "image/jpeg")})
    assert r.status_code == 201, r.text
    number = r.json()[0]["service_request_id"]
    ticket = api.client.get(f"/api/v1/tickets/{number}", headers=api.h("viewer")).json()
    assert ticket["issue_type"] == "smoke" and ticket["source"] == "upload"  # what the citizen said
    assert "fire" in {d["class_name"] for d in ticket["detections"]} and ticket["score"] >= 0.35
    assert {e["kind"] for e in ticket["evidence"]} == {"annotated", "raw", "crop"}
    [report] = [e for e in api.client.get(f"/api/v1/tickets/{number}/history", headers=api.h("viewer")).json()
                if e["action"] == "open311_report"]
    assert "fire" in {d["issue_type"] for d in report["data"]["detected"]}
    # the fire the detector found is this ticket's: no second ticket
    assert api.client.get("/api/v1/tickets", headers=api.h("viewer")).json()["total"] == 1


def test_migration_moves_earlier_reporters_words_out_of_the_history(tmp_path):
    """Before 0005 an Open311 description was a history note every reader saw; 0005 moves it into
    the private reporter table (and back on downgrade)."""
    from alembic import command
    from sqlalchemy import text

    from api.db.engine import make_engine
    from api.db.migrate import alembic_config, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", pool_size=1)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            at = "2026-11-30 08:00:00"
            conn.execute(text(
                "INSERT INTO tickets (id, dedup_key, seq, issue_type, category_code, name_en, name_zh, severity, "
                "status, source, detected_at, last_seen_at, created_at, updated_at, overdue, reopen_count, "
                "incident_state, score, detections, evidence) VALUES (7, 'open311:x', 1, 'garbage', '', '', '', "
                "'low', 'new', 'upload', :at, :at, :at, :at, 0, 0, 'open', 0, '[]', '[]')"), {"at": at})
            conn.execute(text("INSERT INTO ticket_events (ticket_id, at, actor, action, note) VALUES "
                              "(7, :at, 'op', 'open311_report', 'call me on 555-0101'), "
                              "(7, :at, 'op', 'dispatch', 'to sanitation')"), {"at": at})
        upgrade(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT ticket_id, description FROM open311_reporters")).all() == [
                (7, "call me on 555-0101")]
            assert conn.execute(text("SELECT action, note FROM ticket_events ORDER BY id")).all() == [
                ("open311_report", None), ("dispatch", "to sanitation")]
        cfg = alembic_config()
        with engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0004")
            conn.commit()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT note FROM ticket_events ORDER BY id")).scalars().all() == [
                "call me on 555-0101", "to sanitation"]
    finally:
        engine.dispose()
