"""Schemathesis over every operation of the API: no input makes a 5xx (issue 15, "Done when").

Bounded and offline: the app runs in this process on a fresh PostgreSQL database (ASGI, no
network), called with an admin key (every operation reachable), after making the ids it needs
(tickets 1-3, a mute, a review, users, keys). Each operation gets ``GRIDSIGHT_FUZZ_EXAMPLES``
cases per generation mode (default 4: one to three minutes on a 2-core box). On top of what schemathesis generates from
the schema (and its negative mode, which breaks the schema), hooks swap numbers for NaN,
+-Infinity, 1e999 and 2^64 and times for ones whose offset leaves years 1..9999.

Run it longer: ``GRIDSIGHT_FUZZ_EXAMPLES=200 .venv/bin/python -m pytest tests/security/test_fuzz.py``.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from api.services.clock import ManualClock
from api.storage.objects import LocalStore
from tests.api.conftest import NW, START, add_users, fresh_pg_database, make_settings
from tests.loop.conftest import jpeg

EXAMPLES = int(os.environ.get("GRIDSIGHT_FUZZ_EXAMPLES", "4"))
NASTY_NUMBERS = [float("nan"), float("inf"), float("-inf"), 2**64, -(2**64), 10**400]
NASTY_TIMES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0000-00-00T00:00:00Z"]
NASTY_TEXT = ["²", "9" * 5000, "\r\nX-Injected: 1", "\x00"]


def _poison(value, pick: int):
    """``value`` with its numbers, times and ids swapped for hostile ones (``pick`` chooses which)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return NASTY_NUMBERS[pick % len(NASTY_NUMBERS)]
    if isinstance(value, str):
        if len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
            return NASTY_TIMES[pick % len(NASTY_TIMES)]
        if value.isdigit():
            return NASTY_TEXT[pick % 2]
        return value
    if isinstance(value, dict):
        return {k: _poison(v, pick) for k, v in value.items()}
    if isinstance(value, list):
        return [_poison(v, pick) for v in value]
    return value


def _maybe_poisoned(value):
    return st.one_of(st.just(value), st.integers(0, 60).map(lambda pick: _poison(value, pick)))


@schemathesis.hook
def flatmap_body(context, body):
    return _maybe_poisoned(body)


@schemathesis.hook
def flatmap_query(context, query):
    return _maybe_poisoned(query)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    return _maybe_poisoned(path_parameters)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    """The app on a fresh database with the ids the operations need; its admin headers."""
    home = tmp_path_factory.mktemp("fuzz")
    with fresh_pg_database("gs_fuzz") as db:
        clock = ManualClock(START)
        app = create_app(make_settings(db, home), clock=clock, store=LocalStore(home / "evidence", secret="fuzz"),
                         escalation=False)
        with TestClient(app) as client:
            keys, _ = add_users(app, clock)
            ingest, admin = {"X-API-Key": keys["ingest"]}, {"X-API-Key": keys["admin"]}
            key = app.state.gs.store.put(jpeg(), "image/jpeg")
            for i in range(3):
                body = {"key": f"cam-01:illegal_parking:kerb:{i}", "seq": 1, "issue_type": "illegal_parking",
                        "camera_id": "cam-01", "zone_id": "kerb", "location": NW, "score": 0.8,
                        "detections": [{"class_name": "car", "score": 0.8, "box": [1, 2, 30, 40]}],
                        "evidence": [{"kind": "annotated", "object_key": key}]}
                assert client.post("/api/v1/incidents", json=body, headers=ingest).status_code == 201
            client.post("/api/v1/tickets/1/review", headers=admin,
                        json={"verdict": "rejected", "reason": "not_a_problem", "mute": True})
            clock.advance(timedelta(minutes=5))
            yield app, admin, client


def _send(client, case, headers: dict):
    """The case over schemathesis' transport; a JSON body with NaN or Infinity (which its encoder
    refuses) as the raw text an attacker would send."""
    if case.media_type == "application/json" and case.body is not None:
        try:
            json.dumps(case.body, allow_nan=False)
        except TypeError:  # not JSON text at all (bytes): schemathesis knows how to send it
            pass
        except ValueError:
            return client.request(case.method, case.formatted_path, params=case.query, content=json.dumps(case.body),
                                  headers={**headers, "Content-Type": "application/json"})
    return case.call(headers=headers)


def test_no_operation_answers_a_server_error(fuzzed):
    app, admin, client = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            def call(case):
                response = _send(client, case, admin)
                if response.status_code >= 500:
                    failures.setdefault(f"{case.method} {case.path}", f"{response.status_code} {case.formatted_path} "
                                        f"query={case.query} body={json.dumps(case.body, default=str)[:300]}: "
                                        f"{response.text[:300]}")

            try:
                call()
            except Unsatisfiable:  # e.g. no parameter to break in negative mode
                pass
    print(f"{operations} operations, {EXAMPLES} cases per operation and mode")
    assert operations >= 60
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
