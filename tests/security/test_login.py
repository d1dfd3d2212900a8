"""Login abuse (issue 15, item 2): guessing is rate limited with back-off, unknown users cost a
real Argon2 verification, and a flood of wrong passwords does not slow down other callers."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

from api.auth import hash_password
from tests.api.conftest import fresh_pg_database
from tests.security.server import INGEST_KEY, create_key, served

TOKEN = "/api/v1/auth/token"


def _login(client, username: str, password: str):
    return client.post(TOKEN, data={"username": username, "password": password})


def _set_password(api, user: str, password: str) -> None:
    with api.gs.engine.begin() as conn:
        conn.execute(text("UPDATE users SET password_hash = :h WHERE username = :u"),
                     {"h": hash_password(password), "u": user})


def test_thirty_wrong_passwords_lock_the_username_with_retry_after(api):
    _set_password(api, "operator", "the right password")
    answers = [_login(api.client, "operator", f"guess {i}").status_code for i in range(30)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}
    r = _login(api.client, "operator", "the right password")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert _login(api.client, "viewer", "another user is not locked").status_code == 401


def test_one_client_cannot_spray_many_usernames(api):
    answers = [_login(api.client, f"user{i}", "password1").status_code for i in range(40)]
    assert 429 in answers and answers.count(401) <= 30


def test_unknown_users_cost_an_argon2_verification_too(api):
    guard = api.gs.login
    _set_password(api, "operator", "the right password")
    before = guard.verifications
    assert _login(api.client, "nobody-here", "some password").status_code == 401
    assert _login(api.client, "operator", "wrong password").status_code == 401
    assert guard.verifications == before + 2  # the same work, whether the user exists or not


def _p99(samples: list[float]) -> float:
    return sorted(samples)[max(0, round(0.99 * len(samples)) - 1)]


def _time_tickets(url: str, headers: dict, seconds: float) -> list[float]:
    out = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            assert client.get("/api/v1/tickets", params={"limit": 10}).status_code == 200
            out.append(time.perf_counter() - t0)
            time.sleep(0.02)
    return out


def test_a_login_flood_leaves_other_callers_fast(tmp_path):
    """16 clients send wrong passwords for 10 s; /tickets with a valid key keeps its p99 under
    100 ms. On a loaded shared box (the 2-core test machines run several suites at once) the bar is
    relative where the box is slower: at most three times the p99 measured just before without the
    flood (both printed). Before the login guard the flood made /tickets 500 times slower."""
    with fresh_pg_database("gs_flood") as db, served(tmp_path, db) as (url, _):
        with httpx.Client(base_url=url) as c:
            body = {"key": "flood", "seq": 1, "issue_type": "illegal_parking"}
            assert c.post("/api/v1/incidents", json=body, headers={"X-API-Key": INGEST_KEY}).status_code == 201
        headers = {"X-API-Key": create_key(tmp_path, db, "reader", "viewer")}
        _time_tickets(url, headers, 1)  # warm
        baseline = _time_tickets(url, headers, 5)
        flood = subprocess.Popen([sys.executable, str(Path(__file__).with_name("flood.py")), url, "16"],
                                 stdout=subprocess.PIPE, text=True)
        try:
            codes = [int(flood.stdout.readline())]  # the flood is on (its process has started)
            during = _time_tickets(url, headers, 10)
        finally:
            flood.kill()
        codes += [int(line) for line in flood.communicate()[0].split()]
        print("slowest /tickets during the flood (ms):", [round(v * 1000) for v in sorted(during)[-5:]])
        print(f"/tickets p99: {_p99(baseline) * 1000:.1f} ms before, {_p99(during) * 1000:.1f} ms during the flood "
              f"({len(codes)} logins: {codes.count(429)} x 429, {codes.count(401)} x 401)")
        assert codes.count(429) > codes.count(401)
        assert _p99(during) < max(0.100, 3 * _p99(baseline))
