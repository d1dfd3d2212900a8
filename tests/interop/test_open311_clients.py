"""GeoReport v2 conformance: third-party clients from PyPI against the app served on loopback
(``georeport`` 0.3.1, ``three`` 0.8.0 with its Python 3 shim), and the spec's own examples
(http://wiki.open311.org/GeoReport_v2)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree as ET

import cv2
import numpy as np
import pytest
import requests

from tests.api.conftest import LiveServer
from tests.interop.conftest import NORTH_WEST
from tests.interop.open311_clients import GeoReport, Three
from tests.interop.test_open311 import BASE


@pytest.fixture(scope="module")
def bus_jpg() -> bytes:
    """Ultralytics' sample photo: a bus and four people."""
    import ultralytics

    return (Path(ultralytics.__file__).parent / "assets" / "bus.jpg").read_bytes()


@pytest.fixture
def live(api, detector):
    api.app.state.gs.detector = detector
    with LiveServer(api.app) as server:
        assert server.url.startswith("http://127.0.0.1:")
        yield server.url + BASE


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def sharpness(image: np.ndarray, box) -> float:
    """Variance of the Laplacian inside ``box`` (its middle 80%): high for detail, ~0 for blocks."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * 0.1, (y2 - y1) * 0.1
    roi = image[int(y1 + dy):int(y2 - dy), int(x1 + dx):int(x2 - dx)]
    return float(cv2.Laplacian(cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def people(detector, image: np.ndarray) -> list:
    [found] = detector.detect([image])
    return [d["box"] for d in found.to_list() if d["class_name"] == "person" and d["score"] >= 0.5]


def test_third_party_clients_list_get_and_post_with_a_photo(api, live, detector, bus_jpg):
    # three: discovery where it looks for it (endpoint + discovery.json), services, POST with a photo and a key
    filer = Three(live + "/", api_key=api.keys["operator"])
    assert filer.discovery()["endpoints"][0]["url"] == live
    assert "garbage" in {s["service_code"] for s in filer.services()}
    [answer] = filer.post("garbage", lat=NORTH_WEST["lat"], long=NORTH_WEST["lon"], address="1 North-west Road",
                          first_name="Meixiang", last_name="Chenwright", email="meixiang@example.org",
                          description="Bags dumped at the bus stop", media=("bus.jpg", bus_jpg, "image/jpeg"))
    assert filer.post_response.status_code == 201, filer.post_response.text
    number = answer["service_request_id"]
    # XML: the same POST answered as the spec's <service_requests><request>
    xml_filer = Three(live + "/", api_key=api.keys["operator"], format="xml")
    posted = xml_filer.post("fire", lat=NORTH_WEST["lat"], long=NORTH_WEST["lon"], description="smoke from a bin")
    assert xml_filer.post_response.status_code == 201 and posted["request"]["service_request_id"].startswith("GS-")
    # and without a key the POST is refused (Open311 error, XML as asked)
    assert Three(live + "/", format="xml").post("fire", lat=1, long=1) == {
        "error": {"code": "401", "description": "api_key required (or X-API-Key / Authorization: Bearer)"}}

    # reads need no key: three and georeport, JSON and XML
    public = Three(live + "/")
    listed = public.requests()
    assert {r["service_request_id"] for r in listed} == {number, posted["request"]["service_request_id"]}
    [one] = public.request(number)
    assert public.requests("garbage") == [one]
    assert one["service_code"] == "garbage" and one["status"] == "open"
    assert one["description"] == "Exposed garbage / 暴露垃圾 reported by a citizen"  # the reporter's words: private
    geo, geo_xml = GeoReport(live), GeoReport(live, output_format="xml")
    assert geo.get_service_request(number) == one
    assert {r["service_request_id"] for r in geo.get_service_requests(status="open")} == {
        r["service_request_id"] for r in listed}
    assert [s["service_code"] for s in geo_xml.get_service_list()] == [s["service_code"] for s in geo.get_service_list()]
    as_xml = geo_xml.get_service_request(number)
    assert as_xml["service_request_id"] == number and as_xml["media_url"] == one["media_url"]
    assert {r["service_request_id"] for r in geo_xml.get_service_requests(status="open")} == {
        r["service_request_id"] for r in listed}
    for contact in ("Meixiang", "Chenwright", "meixiang@example.org", "Bags dumped"):
        assert contact not in str(listed) + str(as_xml)

    # the photo comes back as a public media_url: small, no key, people blurred
    assert one["media_url"].startswith(live + "/media/")
    image = requests.get(one["media_url"], timeout=60)
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    shown, original = decode(image.content), decode(bus_jpg)
    assert shown.shape == (1024, 768, 3)  # 810x1080 shrunk to 1024 px at most
    same_size = cv2.resize(original, (768, 1024), interpolation=cv2.INTER_AREA)
    persons = people(detector, same_size)
    assert len(persons) >= 3
    for box in persons:
        assert sharpness(shown, box) < 0.2 * sharpness(same_size, box), box
    mask = np.ones(shown.shape[:2], bool)
    for x1, y1, x2, y2 in persons:
        mask[int(y1):int(y2) + 1, int(x1):int(x2) + 1] = False
    assert np.median(np.abs(shown.astype(int) - same_size.astype(int))[mask]) < 8  # the rest is the photo

    # the stored evidence (behind roles) is blurred too, and it is the ticket's, the only one the photo made
    assert requests.get(f"{live[:-len(BASE)]}/api/v1/tickets/{number}/evidence?kind=raw", timeout=30).status_code == 401
    raw = requests.get(f"{live[:-len(BASE)]}/api/v1/tickets/{number}/evidence?kind=raw", headers=api.h("viewer"),
                       timeout=30)
    stored = decode(raw.content)
    assert stored.shape == original.shape
    for box in people(detector, original):
        assert sharpness(stored, box) < 0.2 * sharpness(original, box), box
    ticket = api.client.get(f"/api/v1/tickets/{number}", headers=api.h("viewer")).json()
    assert {e["kind"] for e in ticket["evidence"]} >= {"annotated", "raw"} and ticket["source"] == "upload"
    assert api.client.get("/api/v1/tickets", headers=api.h("viewer")).json()["total"] == 2


# The spec's examples (http://wiki.open311.org/GeoReport_v2), service code and place ours.
SPEC_SERVICE = {"service_code": "001", "service_name": "Cans left out 24x7",
                "description": "Garbage or recycling cans that have been left out for more than 24 hours after "
                               "collection. Violators will be cited.",
                "metadata": True, "type": "realtime", "keywords": "lorem, ipsum, dolor", "group": "sanitation"}
SPEC_REQUEST = {"service_request_id": 638344, "status": "closed", "status_notes": "Duplicate request.",
                "service_name": "Sidewalk and Curb Issues", "service_code": "006", "description": None,
                "agency_responsible": None, "service_notice": None,
                "requested_datetime": "2010-04-14T06:37:38-08:00", "updated_datetime": "2010-04-14T06:37:38-08:00",
                "expected_datetime": "2010-04-15T06:37:38-08:00", "address": "8TH AVE and JUDAH ST",
                "address_id": 545483, "zipcode": 94122, "lat": 37.762221815, "long": -122.4651145,
                "media_url": "http://city.gov.s3.amazonaws.com/requests/media/638344.jpg"}
SPEC_POST = ("api_key={key}&service_code={code}&lat=31.235&long=121.465&address_string=1234+5th+street"
             "&email=smit222%40sfgov.edu&device_id=tt222111&account_id=123456&first_name=john&last_name=smith"
             "&phone=111111111&description=A+large+sinkhole+is+destroying+the+street"
             "&media_url=http%3A%2F%2Ffarm3.static.flickr.com%2F2002%2F2212426634_5ed477a060.jpg")
SPEC_POST_ANSWER = {"service_request_id": 293944, "service_notice": "The City will inspect and require the "
                    "responsible party to correct within 24 hours and/or issue a Correction Notice or Notice of "
                    "Violation of the Public Works Code", "account_id": None}
SPEC_ERROR = {"code": 403, "description": "Invalid api_key"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_the_specs_examples(api):
    c = api.client
    services = c.get(f"{BASE}/services.json").json()
    assert all(list(s) == list(SPEC_SERVICE) for s in services)
    xml = ET.fromstring(c.get(f"{BASE}/services.xml").content)
    assert [e.tag for e in xml.find("service")] == list(SPEC_SERVICE)

    r = c.post(f"{BASE}/requests.json", content=SPEC_POST.format(key=api.keys["operator"], code="garbage"),
               headers=FORM)
    assert r.status_code == 201, r.text
    [answer] = r.json()
    assert list(answer) == list(SPEC_POST_ANSWER)
    number = answer["service_request_id"]
    r = c.post(f"{BASE}/requests.xml", content=SPEC_POST.format(key=api.keys["operator"], code="garbage"),
               headers=FORM)
    assert [e.tag for e in ET.fromstring(r.content).find("request")] == list(SPEC_POST_ANSWER)

    # GET requests.xml?start_date=…&end_date=…&status=open, the spec's query: none that old here
    r = c.get(f"{BASE}/requests.xml?start_date=2010-05-24T00:00:00Z&end_date=2010-06-24T00:00:00Z&status=open")
    assert r.status_code == 200 and ET.fromstring(r.content).tag == "service_requests" and not len(
        ET.fromstring(r.content))
    [req] = c.get(f"{BASE}/requests/{number}.json").json()
    assert list(req) == list(SPEC_REQUEST)
    xml = ET.fromstring(c.get(f"{BASE}/requests/{number}.xml").content)
    assert [e.tag for e in xml.find("request")] == list(SPEC_REQUEST)
    # the reporter's fields of the example are kept, privately
    who = c.get(f"/api/v1/tickets/{number}/reporter", headers=api.h("operator")).json()
    assert (who["first_name"], who["last_name"], who["email"], who["phone"]) == (
        "john", "smith", "smit222@sfgov.edu", "111111111")

    # errors: the example's shape, JSON and XML (an invalid key is 401 here)
    r = c.post(f"{BASE}/requests.json", content=SPEC_POST.format(key="xyz", code="garbage"), headers=FORM)
    assert r.status_code == 401 and [list(e) for e in r.json()] == [list(SPEC_ERROR)]
    r = c.post(f"{BASE}/requests.xml", content=SPEC_POST.format(key="xyz", code="garbage"), headers=FORM)
    err = ET.fromstring(r.content)
    assert err.tag == "errors" and [e.tag for e in err.find("error")] == list(SPEC_ERROR)
    assert c.get(f"{BASE}/requests/638344.xml").status_code == 404


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_error_under_open311_is_an_open311_error(api, fmt):
    def error(r, code: int) -> str:
        assert r.status_code == code, r.text
        if fmt == "xml":
            assert r.headers["content-type"].startswith("text/xml")
            root = ET.fromstring(r.content)
            assert root.tag == "errors" and root.findtext("error/code") == str(code)
            return root.findtext("error/description")
        [e] = r.json()
        assert e["code"] == code and set(e) == {"code", "description"}
        return e["description"]

    c = api.client
    assert "no Open311 resource" in error(c.get(f"{BASE}/nothing.{fmt}"), 404)
    assert "no Open311 resource" in error(c.get(f"/open311/v3/services.{fmt}"), 404)
    assert "no Open311 resource" in error(c.get(f"{BASE}/requests/GS-2026-000001/notes.{fmt}"), 404)
    assert "no ticket" in error(c.get(f"{BASE}/requests/GS-2026-000001.{fmt}"), 404)
    assert "GET" in error(c.delete(f"{BASE}/requests.{fmt}"), 405)
    assert "page_size" in error(c.get(f"{BASE}/requests.{fmt}?page_size=many"), 400)
    assert "unknown service_code" in error(c.get(f"{BASE}/requests.{fmt}?service_code=potholes"), 400)
    form = {"api_key": api.keys["operator"], "service_code": "garbage", "lat": "31.235", "long": "121.465"}
    text = ("notes.txt", b"not a picture", "text/plain")
    assert "not a JPEG" in error(c.post(f"{BASE}/requests.{fmt}", data=form, files={"media": text}), 400)
    api.app.state.gs.settings.upload_max_bytes = 10
    big = ("big.jpg", b"\xff\xd8\xff" + b"0" * 64, "image/jpeg")
    assert "byte limit" in error(c.post(f"{BASE}/requests.{fmt}", data=form, files={"media": big}), 413)
    assert "email" in error(c.post(f"{BASE}/requests.{fmt}", data={**form, "email": "not-an-address"}), 400)
    assert c.get("/api/v1/tickets", headers=api.h("viewer")).json()["total"] == 0  # nothing stored
    # discovery answers where clients look for it
    for url in (f"/open311/discovery.{fmt}", f"{BASE}/discovery.{fmt}"):
        assert c.get(url).status_code == 200
