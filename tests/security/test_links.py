"""The secret key and the evidence links it signs (issue 15, item 1; issue 16, item 1)."""

from __future__ import annotations

import stat
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from api.app import create_app
from api.signing import secret_key
from api.storage.objects import get_object_store
from gridsight.settings import Settings
from tests.loop.conftest import jpeg


def test_a_random_key_is_made_once_and_kept_private(tmp_path):
    settings = Settings(home=tmp_path)
    key = secret_key(settings)
    path = tmp_path / "secret_key"
    assert len(key) >= 32 and path.read_text().strip() == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(Settings(home=tmp_path)) == key  # the next start reads the same key
    assert secret_key(Settings(home=tmp_path / "other")) != key


@pytest.mark.parametrize("weak", ["dev-only-change-me", "short"])
def test_the_documented_default_and_short_keys_are_refused(tmp_path, weak):
    with pytest.raises(ValueError, match="at least 32"):
        create_app(Settings(home=tmp_path, secret_key=weak, database_url=f"sqlite:///{tmp_path}/x.db"))


def test_local_store_urls_are_not_signed_with_a_known_key(tmp_path):
    store = get_object_store(Settings(home=tmp_path))
    key = store.put(jpeg(), "image/jpeg")
    url = store.presigned_url(key, timedelta(minutes=5))
    expires = int(parse_qs(urlsplit(url).query)["expires"][0])
    forged = store.signature.__func__(type("S", (), {"_secret": b"dev-only-change-me"})(), key, expires)
    assert not store.verify_signature(key, expires, forged)


def _ticket_with_evidence(api) -> dict:
    key = api.gs.store.put(jpeg(), "image/jpeg")
    t = api.incident(evidence=[{"kind": "annotated", "object_key": key}])
    return api.ticket(t["ticket_id"], "viewer")


def test_the_ticket_json_evidence_url_opens_without_a_header(api):
    ticket = _ticket_with_evidence(api)
    url = ticket["evidence"][0]["url"]
    r = api.client.get(url)  # a browser tab: no credentials
    assert r.status_code == 200 and r.content == jpeg() and r.headers["x-content-type-options"] == "nosniff"
    listed = api.call("GET", "/api/v1/tickets", "viewer").json()["items"][0]["evidence"][0]["url"]
    assert api.client.get(listed).status_code == 200


def test_signed_links_expire_within_hours_and_cannot_be_stretched(api):
    url = _ticket_with_evidence(api)["evidence"][0]["url"]
    query = parse_qs(urlsplit(url).query)
    assert int(query["expires"][0]) - api.clock.now().timestamp() <= 12 * 3600
    assert api.client.get(url.replace(f"expires={query['expires'][0]}",
                                      f"expires={int(query['expires'][0]) + 3600}")).status_code == 403
    assert api.client.get(url.replace("kind=annotated", "kind=raw")).status_code == 403
    api.clock.advance(timedelta(hours=2))
    assert api.client.get(url).status_code == 403


def test_a_revoked_key_kills_its_links(api):
    url = _ticket_with_evidence(api)["evidence"][0]["url"]
    assert api.client.get(url).status_code == 200
    key_id = int(parse_qs(urlsplit(url).query)["by"][0])
    assert api.call("DELETE", f"/api/v1/admin/keys/{key_id}", "admin").status_code == 204
    assert api.client.get(url).status_code == 403


def test_a_link_dies_when_the_signer_may_no_longer_read_the_ticket(api):
    ticket = _ticket_with_evidence(api)
    api.act(ticket["id"], "dispatch", "dispatcher", department_id="traffic-police")
    url = api.ticket(ticket["id"], "handler")["evidence"][0]["url"]
    assert api.client.get(url).status_code == 200
    r = api.call("PATCH", f"/api/v1/admin/users/{api.users['handler']}", "admin", json={"department_id": "sanitation"})
    assert r.status_code == 200, r.text
    assert api.client.get(url).status_code == 403  # another department now: out of scope


def test_evidence_is_served_only_as_an_image_type_with_nosniff(api):
    """An ingest-declared ``text/html`` (or a CRLF) is refused; a stored one is never echoed."""
    from sqlalchemy import text

    key = api.gs.store.put(b"<script>alert(1)</script>", "image/jpeg")
    for bad in ("text/html", "image/jpeg\r\nSet-Cookie: a=b"):
        r = api.call("POST", "/api/v1/incidents", "ingest", json={
            "key": f"ct-{len(bad)}", "seq": 1, "issue_type": "illegal_parking",
            "evidence": [{"kind": "raw", "object_key": key, "content_type": bad}]})
        assert r.status_code == 422, r.text
    t = api.incident(evidence=[{"kind": "raw", "object_key": key}])
    with api.gs.engine.begin() as conn:  # a row stored before this check existed
        conn.execute(text("UPDATE tickets SET evidence = :e WHERE id = :i"), {
            "i": t["ticket_id"],
            "e": '[{"kind": "raw", "object_key": "%s", "content_type": "text/html\\r\\nX-A: b"}]' % key})
    r = api.call("GET", f"/api/v1/tickets/{t['ticket_id']}/evidence", "viewer")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/jpeg" and r.headers["x-content-type-options"] == "nosniff"
    assert "x-a" not in r.headers
