"""/metrics (Prometheus), local presigned evidence URLs, S3 evidence through the API, push on ticket changes."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx
from prometheus_client.parser import text_string_to_metric_families

from api.push import verify_signature
from api.storage import S3Store
from tests.interop.conftest import NORTH_WEST, jpeg, make_api


def samples(text: str) -> dict:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_by_route_and_tickets_by_status(api):
    def value(m, name, **labels):
        return m.get((name, tuple(sorted(labels.items()))), 0)

    before = samples(api.client.get("/metrics").text)
    t = api.incident("garbage", NORTH_WEST)
    api.act(t["number"], "reject", reason="nothing")
    api.incident("fire", NORTH_WEST)
    api.client.get(f"/api/v1/tickets/{t['number']}", headers=api.h("viewer"))
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    m = samples(r.text)
    route = "/api/v1/tickets/{ref}"
    assert value(m, "gridsight_http_requests_total", method="GET", route=route, status="200") == \
        value(before, "gridsight_http_requests_total", method="GET", route=route, status="200") + 1
    assert value(m, "gridsight_http_requests_total", method="POST", route="/api/v1/incidents", status="201") == \
        value(before, "gridsight_http_requests_total", method="POST", route="/api/v1/incidents", status="201") + 2
    assert value(m, "gridsight_http_request_duration_seconds_count", method="POST", route="/api/v1/incidents") >= 2
    assert not any("GS-" in str(k) for k in m)  # labelled by template, never by raw path
    assert value(m, "gridsight_tickets", status="rejected") == 1
    assert value(m, "gridsight_tickets", status="new") + value(m, "gridsight_tickets", status="dispatched") == 1
    assert value(m, "gridsight_tickets_overdue") == 0
    assert ("gridsight_push_deliveries", (("state", "pending"),)) in m


def test_local_presigned_evidence_url_is_served_without_credentials(api):
    t = api.incident("garbage", NORTH_WEST, evidence=jpeg())
    r = api.client.get(f"/api/v1/tickets/{t['number']}/evidence/url", params={"expires_s": 60}, headers=api.h("viewer"))
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith("/api/v1/objects/evidence/")
    img = api.client.get(url)  # no key: the signature is the grant
    assert img.status_code == 200 and img.headers["content-type"] == "image/jpeg" and img.content == jpeg()
    tampered = re.sub(r"signature=(.)", lambda m: "signature=" + ("0" if m.group(1) != "0" else "1"), url)
    assert api.client.get(tampered).status_code == 403
    longer = re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 3600}", url)
    assert api.client.get(longer).status_code == 403
    missing = url.split("?")[0][:-10] + "0000000000?" + url.split("?")[1]
    assert api.client.get(missing).status_code in (403, 404)
    assert api.client.get("/api/v1/objects/evidence/../../etc/passwd?expires=9999999999&signature=" + "0" * 64
                          ).status_code == 404


def test_evidence_through_the_api_on_real_s3(tmp_path, s3_server, s3_bucket):
    store = S3Store(s3_server.endpoint, s3_server.access_key, s3_server.secret_key, s3_bucket, region=s3_server.region)
    api, close = make_api(tmp_path, store=store)
    try:
        assert api.client.get("/readyz").json()["checks"]["object_store"] == "ok"
        t = api.incident("garbage", NORTH_WEST, evidence=jpeg((10, 200, 10)))
        ticket = api.client.get(f"/api/v1/tickets/{t['number']}", headers=api.h("viewer")).json()
        [ev] = ticket["evidence"]
        assert store.get(ev["object_key"]) == jpeg((10, 200, 10))  # really in the bucket
        img = api.client.get(ev["url"], headers=api.h("viewer"))
        assert img.status_code == 200 and img.content == jpeg((10, 200, 10))
        url = api.client.get(f"/api/v1/tickets/{t['number']}/evidence/url", headers=api.h("viewer")).json()["url"]
        assert urlsplit(url).netloc == s3_server.endpoint
        r = httpx.get(url, timeout=10)  # straight from Swift, no credentials
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg" and r.content == jpeg((10, 200, 10))
    finally:
        close()


def test_ticket_changes_are_pushed_to_webhooks(api):
    from tests.push.test_push import SECRET, Receiver

    receiver = Receiver()
    try:
        api.notifier.add_subscription(receiver.url, SECRET)
        t = api.incident("garbage", NORTH_WEST)
        api.act(t["number"], "reject", reason="a shadow")
        assert api.notifier.flush(10)
        bodies = [r["body"] for r in receiver.requests]
        assert all(verify_signature(SECRET, b, r["headers"]["X-GridSight-Signature"])
                   for b, r in zip(bodies, receiver.requests))
        events = [json.loads(b) for b in bodies]
        assert [e["event"] for e in events] == ["created", "status"]
        assert {e["number"] for e in events} == {t["number"]}
        assert events[1]["to_status"] == "rejected" and events[1]["ticket"]["status"] == "rejected"
    finally:
        receiver.close()
