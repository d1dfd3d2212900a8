"""Webhooks cannot reach inside, echo nothing back, and cannot be replayed (issue 15, item 6)."""

from __future__ import annotations

import json
import time

import pytest

from api.push import Notifier, sign, verify_signature
from tests.push.test_push import LOOPBACK, SECRET, Receiver

INSIDE = ["http://169.254.169.254/latest/meta-data", "http://127.0.0.1:9/hook", "http://localhost/hook",
          "http://10.0.0.1/hook", "http://192.168.1.1/hook", "http://[::1]/hook", "http://224.0.0.1/hook",
          "http://0.0.0.0/hook"]


def _event() -> dict:
    return {"event": "ticket.created", "ticket": {"id": 1, "number": "GS-2026-000001", "status": "new"}}


@pytest.fixture
def receiver():
    r = Receiver(answers=[500] * 50)
    yield r
    r.close()


@pytest.mark.parametrize("url", INSIDE)
def test_internal_targets_are_refused_unless_allowed(tmp_path, url):
    n = Notifier(tmp_path / "push.db")
    try:
        with pytest.raises(ValueError, match="internal address|does not resolve"):
            n.add_subscription(url, SECRET)
    finally:
        n.close()


def test_the_api_refuses_an_internal_webhook_with_422(api):
    r = api.call("POST", "/api/v1/webhooks", "admin", json={"url": INSIDE[0], "secret": SECRET})
    assert r.status_code == 422 and "internal address" in r.text, r.text


def test_the_target_is_checked_again_at_delivery_and_no_answer_is_echoed(tmp_path, receiver):
    n = Notifier(tmp_path / "push.db", retry_base_s=0.05, max_attempts=2, webhook_allow=LOOPBACK).start()
    try:
        n.add_subscription(receiver.url, SECRET)  # allowed when subscribed...
        first = n.publish(_event())
        n.flush(10)
        [entry] = n.log(event_id=first)
        assert entry["last_status"] == 500 and entry["last_error"] == "HTTP 500 Internal Server Error"
        seen = len(receiver.requests)
        n.webhook_allow = ()  # ...not any more (as when a name starts resolving to an inside address)
        second = n.publish(_event())
        n.flush(10)
        [entry] = n.log(event_id=second)
        assert entry["state"] == "failed" and "internal address" in entry["last_error"]
        assert len(receiver.requests) == seen  # nothing was sent
    finally:
        n.close()


def test_signatures_carry_a_timestamp_and_old_ones_are_refused(tmp_path):
    body = json.dumps(_event()).encode()
    fresh = sign(SECRET, body)
    assert fresh.startswith("t=") and verify_signature(SECRET, body, fresh)
    old = sign(SECRET, body, at=int(time.time()) - 600)
    assert not verify_signature(SECRET, body, old)  # a replay 10 minutes later
    assert not verify_signature(SECRET, body + b" ", fresh)
    assert not verify_signature(SECRET, body, fresh.replace("t=", "t=1"))
