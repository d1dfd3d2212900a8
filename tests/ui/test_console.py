"""The review console in a real browser: an operator reviews 20 detections with the keyboard only;
a viewer sees no action and a forged action with the viewer's credentials answers 403.

The API runs under uvicorn on a loopback port against the real PostgreSQL (a fresh database,
dropped after); 24 camera tickets are made through ``POST /api/v1/incidents`` with JPEG evidence. Screenshots are kept in
``test-artifacts/console/`` (git-ignored): ``console-operator.png`` (the queue with a ticket's detail,
the picture in the README), ``console-help.png``, ``console-cameras.png``, ``console-map.png``,
``console-viewer.png``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import httpx
import pytest

from gridsight.paths import REPO_ROOT
from tests.ui.chromium import Chromium
from tests.ui.server import running_api
from tests.ui.test_docs_ui import evidence_jpeg, pytestmark  # noqa: F401  (skip without Chromium)

ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"
INGEST_KEY = "gsk_console-test-ingest-key-0123"
PASSWORD = "operator-password-1"
TICKETS = 24
# The operator's keystrokes, one review each (j/k move first where given): c confirm, r not a
# problem, w wrong class, p privacy (these three mute the place), u duplicate (Enter accepts the
# suggested original).
PLAN = ["c", "r", "c", "jc", "w", "c", "kc", "p", "c", "u", "c", "c", "r", "c", "jkc", "c", "w", "c", "c", "r"]
MUTING = {"r", "w", "p"}
CAMERAS = ("cam-east", "cam-west", "cam-north")
KEYCODES = {"Enter": 13, "Tab": 9, "Escape": 27}
LOGS: dict = {}  # API base URL -> its log, shown when the test fails


def press(page, key: str) -> None:
    """One key, as the keyboard sends it (keyDown with its text, then keyUp)."""
    code = KEYCODES.get(key) or ord(key.upper())
    down = {"type": "keyDown", "key": key, "windowsVirtualKeyCode": code, "nativeVirtualKeyCode": code,
            "code": key if key in KEYCODES else f"Key{key.upper()}" if key.isalpha() else ""}
    if key == "Enter":
        down["text"] = "\r"
    elif len(key) == 1:
        down["text"] = key
    page.send("Input.dispatchKeyEvent", **down)
    page.send("Input.dispatchKeyEvent", type="keyUp", key=key, windowsVirtualKeyCode=code,
              nativeVirtualKeyCode=code, code=down["code"])


def type_text(page, text: str) -> None:
    page.send("Input.insertText", text=text)


@pytest.fixture(scope="module")
def console_db():
    """The ticket database on the real PostgreSQL (a fresh database, dropped afterwards)."""
    from tests.api.conftest import pg_database

    with pg_database("gs_console_ui") as url:
        yield url


@pytest.fixture(scope="module")
def console_api(tmp_path_factory, console_db):
    home = tmp_path_factory.mktemp("console-api")
    env = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": console_db, "GRIDSIGHT_S3_ENDPOINT": "",
           "GRIDSIGHT_MQTT_HOST": "", "GRIDSIGHT_API_KEY": INGEST_KEY, "GRIDSIGHT_LOG_LEVEL": "WARNING"}
    gridsight = [sys.executable, "-m", "gridsight.cli"]
    made = subprocess.run([*gridsight, "api", "create-user", "operator1", "--role", "operator", "--password-stdin"],
                          input=PASSWORD + "\n", env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    keys = {}
    for name, role in (("viewer1", "viewer"), ("admin1", "admin")):
        made = subprocess.run([*gridsight, "api", "create-key", name, "--role", role], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        keys[role] = made.stdout.strip().splitlines()[-1]
    with running_api(env, home) as base:
        LOGS[base] = home / "uvicorn.log"
        jpeg = evidence_jpeg()
        for i in range(TICKETS):
            cam = CAMERAS[i % len(CAMERAS)]
            incident = {"key": f"{cam}:illegal_parking:kerb-{i}:1", "seq": 1, "event": "open",
                        "issue_type": "illegal_parking" if i % 4 else "fire_lane_blocked", "source": "camera",
                        "camera_id": cam, "zone_id": f"kerb-{i}", "score": round(0.6 + i / 100, 2),
                        "location": {"lat": 31.231 + (i % 6) * 0.0015, "lon": 121.462 + (i // 6) * 0.006,
                                     "address": f"{i + 1} Test Road"},
                        "detections": [{"class_name": "car", "score": 0.9, "box": [150, 140, 330, 245],
                                        "track_id": i}]}
            r = httpx.post(f"{base}/api/v1/incidents", headers={"X-API-Key": INGEST_KEY},
                           data={"incident": json.dumps(incident)},
                           files={"evidence_annotated": ("a.jpg", jpeg, "image/jpeg"),
                                  "evidence_raw": ("r.jpg", jpeg, "image/jpeg")}, timeout=30)
            assert r.status_code == 201, r.text
        yield base, keys


def items(page) -> int:
    return page.evaluate("document.querySelectorAll('#list .item').length")


def selected(page) -> str:
    return page.evaluate("(document.querySelector('#list .item.sel') || {}).dataset.id")


def test_operator_reviews_20_detections_with_the_keyboard_and_a_viewer_cannot(console_api):
    base, keys = console_api
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat()
    with Chromium(window=(1400, 900)) as browser:
        page = browser.new_page()
        try:
            operator_session(page, base)
            viewer_session(page, base, keys["viewer"])
        except Exception:
            page.screenshot(ARTIFACTS / "console-failure.png", full_page=False)
            print("toast:", page.evaluate("document.querySelector('#toast').textContent"))
            print("API log:", LOGS[base].read_text()[-5000:])
            (ARTIFACTS / "console-failure.html").write_text(page.evaluate("document.body.outerHTML") or "")
            raise
        finally:
            page.close()

    admin = {"X-API-Key": keys["admin"]}
    reviews = httpx.get(f"{base}/api/v1/reviews", params={"since": started}, headers=admin).json()["items"]
    assert len(reviews) == 20
    verdicts = sorted((r["verdict"], r["reason"] or "") for r in reviews)
    expected = sorted(("confirmed", "") if p[-1] == "c" else
                      ("rejected", {"r": "not_a_problem", "w": "wrong_class", "p": "privacy", "u": "duplicate"}[p[-1]])
                      for p in PLAN)
    assert verdicts == expected
    mutes = httpx.get(f"{base}/api/v1/mutes", params={"active": "true"}, headers=admin).json()
    assert len(mutes) == sum(p[-1] in MUTING for p in PLAN)
    by_ticket = {r["ticket_id"]: r for r in reviews}
    assert all(by_ticket[m["ticket_id"]]["reason"] == m["reason"] for m in mutes)
    queue = httpx.get(f"{base}/api/v1/review-queue", headers=admin).json()
    assert len(queue["items"]) == TICKETS - 20


def operator_session(page, base: str) -> None:
    page.navigate(f"{base}/console")
    page.wait_for("document.activeElement && document.activeElement.id == 'username'", 30, "the sign-in form")
    type_text(page, "operator1")
    press(page, "Tab")
    type_text(page, PASSWORD)
    press(page, "Enter")
    page.wait_for(f"document.querySelectorAll('#list .item').length == {TICKETS}", 30, "the queue")
    assert page.evaluate("document.querySelector('#who').textContent") == "operator1 · operator"
    # newest first; thumbnails and crops arrive as images
    ids = page.evaluate("[...document.querySelectorAll('#list .item')].map(li => Number(li.dataset.id))")
    assert ids == sorted(ids, reverse=True)
    page.wait_for("[...document.querySelectorAll('#list .item img')].slice(0, 8)"
                  ".every(i => i.complete && i.naturalWidth > 0)", 30, "thumbnails and crops")
    assert page.evaluate("document.querySelector('#list .item img.crop').naturalWidth") == 240
    # an operator reviews; dispatching is a dispatcher's
    assert page.evaluate("document.querySelectorAll('#list .item [data-action=confirm]').length") == TICKETS
    assert page.evaluate("document.querySelectorAll('[data-action=dispatch]').length") == 0
    page.wait_for("document.querySelector('#detail h2') && document.querySelectorAll('#detail img.evidence')"
                  ".length >= 2 && [...document.querySelectorAll('#detail img')].every(i => i.naturalWidth > 0)",
                  30, "the first ticket's detail with its evidence")
    page.screenshot(ARTIFACTS / "console-operator.png", full_page=False)
    press(page, "?")
    page.wait_for("!document.querySelector('#overlay').hidden && document.querySelector('#dialog .keys')", 10, "help")
    page.screenshot(ARTIFACTS / "console-help.png", full_page=False)
    press(page, "Escape")
    page.wait_for("document.querySelector('#overlay').hidden", 10, "help to close")

    for n, keys in enumerate(PLAN):
        before = items(page)
        for k in keys[:-1]:  # j / k: the selection moves
            was = selected(page)
            press(page, k)
            assert selected(page) != was, f"{k} did not move the selection"
        press(page, keys[-1])
        if keys[-1] == "u":  # the duplicate dialog suggests an earlier ticket of the same camera and type
            page.wait_for("document.querySelector('#dialog input[name=original]')", 10, "the duplicate dialog")
            assert page.evaluate("document.querySelector('#dialog input[name=original]').value").startswith("GS-")
            press(page, "Enter")
        page.wait_for(f"document.querySelectorAll('#list .item').length == {before - 1}", 20,
                      f"review {n + 1} ({keys}) to leave the queue")
        page.wait_for("document.querySelector('#list .item.sel')", 10, "the next detection to be selected")
    assert items(page) == TICKETS - 20

    # camera health and the offline map answer for the operator too
    page.evaluate("document.querySelector('#tabs [data-tab=cameras]').click()")
    page.wait_for("document.querySelectorAll('#cameras tbody tr').length >= 3", 20, "camera health")
    assert page.evaluate("[...document.querySelectorAll('#cameras tbody tr')].filter(r => "
                         "r.textContent.includes('cam-east'))[0].querySelector('.state').textContent")\
        .startswith("online")
    page.screenshot(ARTIFACTS / "console-cameras.png", full_page=False)
    page.evaluate("document.querySelector('#tabs [data-tab=map]').click()")
    page.wait_for("document.querySelectorAll('#map .tickets circle').length > 0", 20, "the map")
    assert page.evaluate("document.querySelectorAll('#map .grids polygon').length") == 4
    assert page.evaluate("document.querySelectorAll('#map image').length") == 0  # no tile layer configured
    page.screenshot(ARTIFACTS / "console-map.png", full_page=False)
    page.evaluate("document.querySelector('#signout').click()")
    page.wait_for("!document.querySelector('#signin').hidden", 10, "signing out")


def viewer_session(page, base: str, viewer_key: str) -> None:
    page.navigate(f"{base}/console")
    page.wait_for("document.querySelector('#apikey')", 30, "the sign-in form")
    page.evaluate("document.querySelector('#apikey').focus()")
    type_text(page, viewer_key)
    press(page, "Enter")
    page.wait_for(f"document.querySelectorAll('#list .item').length == {TICKETS - 20}", 30, "the viewer's queue")
    page.wait_for("document.querySelector('#detail h2')", 20, "the detail")
    assert page.evaluate("document.querySelectorAll('[data-action], .actions').length") == 0
    before = items(page)
    press(page, "c")  # a key does nothing but say so
    page.wait_for("document.querySelector('#toast').textContent.includes('may not review')", 10, "the refusal")
    assert items(page) == before
    # the credentials persist across a reload
    page.navigate(f"{base}/console")
    page.wait_for(f"document.querySelectorAll('#list .item').length == {before}", 30, "the queue after a reload")
    page.wait_for("document.querySelector('#detail h2') && [...document.querySelectorAll('#detail img')]"
                  ".every(i => i.naturalWidth > 0)", 20, "the detail after the reload")
    assert page.evaluate("document.querySelectorAll('[data-action], .actions').length") == 0
    page.screenshot(ARTIFACTS / "console-viewer.png", full_page=False)
    # a forged action with the viewer's credentials: the API refuses it
    status = page.evaluate(
        "fetch('/api/v1/tickets/' + document.querySelector('#list .item').dataset.id + '/review', {method: 'POST', "
        f"headers: {{'X-API-Key': {json.dumps(viewer_key)}, 'Content-Type': 'application/json'}}, "
        "body: JSON.stringify({verdict: 'confirmed'})}).then(r => r.status)", await_promise=True)
    assert status == 403
    assert items(page) == before
