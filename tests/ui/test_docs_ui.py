"""The docs UI in a real browser: headless Chromium opens /docs, authorizes, lists tickets, shows evidence;
the authorization survives a reload, and dispatch and start run with the bodies the docs pre-fill.

The API runs under uvicorn on a loopback port (SQLite in a temp folder) with one ticket made
through ``POST /api/v1/incidents`` with a JPEG evidence part. Screenshots are kept in
``test-artifacts/ui/`` (git-ignored): ``docs-tickets.png`` (the list answer),
``docs-evidence.png`` (the evidence image shown by the docs UI) and ``docs-dispatch.png`` (the
dispatch answer after a reload, with the example body).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gridsight.paths import REPO_ROOT
from tests.ui.chromium import CHROMIUM, Chromium
from tests.ui.server import running_api

ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
INGEST_KEY = "gsk_ui-test-ingest-key-0123456789"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed (scripts/setup.sh)")


def evidence_jpeg() -> bytes:
    """A recognisable evidence picture: a street, a parked car with a red box, a label."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (480, 270), (120, 130, 140))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 180, 480, 270], fill=(70, 70, 75))  # road
    d.rectangle([0, 150, 480, 180], fill=(180, 180, 170))  # kerb
    d.rectangle([150, 140, 330, 215], fill=(30, 60, 160))  # car body
    d.ellipse([165, 200, 205, 240], fill=(10, 10, 10))
    d.ellipse([275, 200, 315, 240], fill=(10, 10, 10))
    d.rectangle([140, 130, 340, 245], outline=(255, 0, 0), width=4)
    d.rectangle([140, 108, 300, 130], fill=(255, 0, 0))
    d.text((146, 112), "car 0.91  GS evidence", fill=(255, 255, 255))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Served(tuple):
    """``(base URL, viewer key, the ticket)``; ``dispatcher_key`` for the actions."""

    dispatcher_key: str


@pytest.fixture(scope="module")
def served_api(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui-api")
    env = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": "", "GRIDSIGHT_S3_ENDPOINT": "",
           "GRIDSIGHT_MQTT_HOST": "", "GRIDSIGHT_API_KEY": INGEST_KEY, "GRIDSIGHT_LOG_LEVEL": "WARNING"}
    gridsight = [sys.executable, "-m", "gridsight.cli"]
    made = subprocess.run([*gridsight, "api", "create-key", "ui-viewer", "--role", "viewer"],
                          env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    viewer_key = made.stdout.strip().splitlines()[-1]
    made = subprocess.run([*gridsight, "api", "create-key", "ui-dispatcher", "--role", "dispatcher"],
                          env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    dispatcher_key = made.stdout.strip().splitlines()[-1]
    with running_api(env, home) as base:
        incident = {"key": "cam-ui:illegal_parking:kerb:1", "seq": 1, "event": "open",
                    "issue_type": "illegal_parking", "source": "camera", "camera_id": "cam-ui", "score": 0.91,
                    "location": {"lat": 31.235, "lon": 121.465, "address": "1 North-west Road"},
                    "detections": [{"class_name": "car", "score": 0.91, "box": [150, 140, 330, 245], "track_id": 3}]}
        r = httpx.post(f"{base}/api/v1/incidents", headers={"X-API-Key": INGEST_KEY},
                       data={"incident": json.dumps(incident)},
                       files={"evidence_annotated": ("evidence.jpg", evidence_jpeg(), "image/jpeg")}, timeout=30)
        assert r.status_code == 201, r.text
        served = Served((base, viewer_key, r.json()))
        served.dispatcher_key = dispatcher_key
        yield served


JS_OPBLOCK = """(function(path, method) {{
  for (const b of document.querySelectorAll('.opblock.opblock-' + method)) {{
    const p = b.querySelector('.opblock-summary-path');
    if (p && (p.getAttribute('data-path') || p.textContent.trim()) === path) return b;
  }}
  return null;
}})({path!r}, {method!r})"""


def opblock(path: str, method: str = "get") -> str:
    return JS_OPBLOCK.format(path=path, method=method)


def type_into(page, selector_js: str, text: str) -> None:
    """Focus an input found by JavaScript and type into it (real key events, as a person would)."""
    assert page.evaluate(f"(function(){{ const el = {selector_js}; if (!el) return false; el.focus(); "
                         "el.select && el.select(); return true; })()"), f"input not found: {selector_js}"
    page.send("Input.insertText", text=text)
    time.sleep(0.8)  # Swagger UI debounces parameter inputs (300 ms) before its state sees them


def click(page, selector_js: str, what: str) -> None:
    assert page.evaluate(f"(function(){{ const el = {selector_js}; if (!el) return false; "
                         "el.scrollIntoView({block: 'center'}); el.click(); return true; })()"), f"not found: {what}"


def try_out_and_execute(page, block: str) -> None:
    click(page, f"({block}.querySelector('.opblock-summary-control') || {block}.querySelector('.opblock-summary'))", "operation summary")
    page.wait_for(f"{block}.querySelector('.try-out__btn')", 20, "Try it out button")
    click(page, f"{block}.querySelector('.try-out__btn')", "Try it out")
    page.wait_for(f"{block}.querySelector('.execute')", 20, "Execute button")


def authorize_with_key(page, key: str) -> None:
    """Swagger UI's Authorize dialog: type the API key into the APIKey scheme, authorize, close."""
    click(page, "document.querySelector('.btn.authorize')", "Authorize button")
    page.wait_for("document.querySelector('.modal-ux')", 20, "the authorization dialog")
    box = "[...document.querySelectorAll('.modal-ux .auth-container')].find(c => c.textContent.includes('APIKey'))"
    type_into(page, f"{box}.querySelector('input')", key)
    click(page, f"{box}.querySelector('button.authorize')", "Authorize (API key)")
    page.wait_for(f"[...{box}.querySelectorAll('button')].some(b => b.textContent.trim() == 'Logout')"
                  f" && {box}.textContent.includes('Authorized')", 10, "the key to be accepted")
    click(page, f"{box}.querySelector('.btn-done')", "Close (authorization dialog)")
    page.wait_for("!document.querySelector('.modal-ux')", 10, "the dialog to close")


def test_docs_ui_authorizes_lists_tickets_and_shows_evidence(served_api):
    base, key, ticket = served_api
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    with Chromium(window=(1280, 1400)) as browser:
        page = browser.new_page()
        try:
            check_docs_ui(page, base, key, ticket)
        except Exception:  # keep what the browser showed, for whoever reads the failure
            page.screenshot(ARTIFACTS / "failure.png", full_page=False)
            (ARTIFACTS / "failure.html").write_text(page.evaluate("document.body.outerHTML") or "")
            raise
        finally:
            page.close()


def check_docs_ui(page, base: str, key: str, ticket: dict) -> None:
    if True:
        page.navigate(f"{base}/docs")
        page.wait_for("document.querySelector('.swagger-ui .info .title')", 60, "Swagger UI to render")
        title = page.evaluate("document.querySelector('.swagger-ui .info .title').textContent")
        assert "GridSight ticket API" in title

        # Authorize with the API key (the APIKey scheme of the modal)
        authorize_with_key(page, key)

        # List tickets
        tickets = opblock("/api/v1/tickets")
        try_out_and_execute(page, tickets)
        click(page, f"{tickets}.querySelector('.execute')", "Execute (list)")
        status = page.wait_for(f"(function(){{ const c = {tickets}.querySelector('.live-responses-table "
                               ".response .response-col_status'); return c && c.textContent.trim(); })()",
                               30, "the list answer")
        assert status.startswith("200"), status
        body = page.evaluate(f"{tickets}.querySelector('.live-responses-table .highlight-code').textContent")
        assert ticket["number"] in body and "illegal_parking" in body
        page.evaluate(f"{tickets}.querySelector('.live-responses-table').scrollIntoView({{block: 'center'}})")
        page.screenshot(ARTIFACTS / "docs-tickets.png", full_page=False)

        # Show the evidence image
        evidence = opblock("/api/v1/tickets/{ref}/evidence")
        try_out_and_execute(page, evidence)
        type_into(page, f"{evidence}.querySelector('tr[data-param-name=\"ref\"] input')", ticket["number"])
        click(page, f"{evidence}.querySelector('.execute')", "Execute (evidence)")
        size = page.wait_for(f"(function(){{ const i = {evidence}.querySelector('.live-responses-table img'); "
                             "return i && i.complete && i.naturalWidth ? [i.naturalWidth, i.naturalHeight] : null; })()",
                             30, "the evidence image to show")
        assert size == [480, 270]
        status = page.evaluate(f"{evidence}.querySelector('.live-responses-table .response .response-col_status').textContent")
        assert status.strip().startswith("200"), status
        page.evaluate(f"{evidence}.querySelector('.live-responses-table img').scrollIntoView({{block: 'center'}})")
        shot = page.screenshot(ARTIFACTS / "docs-evidence.png", full_page=False)
        assert shot.stat().st_size > 10_000


def execute(page, block: str, what: str) -> tuple[str, str]:
    """Press Execute; the answer's status and body as the docs UI shows them."""
    click(page, f"{block}.querySelector('.execute')", f"Execute ({what})")
    status = page.wait_for(f"(function(){{ const c = {block}.querySelector('.live-responses-table "
                           ".response .response-col_status'); return c && c.textContent.trim(); })()",
                           30, f"the {what} answer")
    code = f"{block}.querySelector('.live-responses-table .highlight-code')"
    return status, page.evaluate(f"(({code}).querySelector('pre') || {code}).textContent")


def run_with_example(page, path: str, ref: str, what: str) -> tuple[str, str, str]:
    """Try an operation out with the body the docs UI pre-fills: (body sent, status, answer)."""
    block = opblock(path, "post")
    try_out_and_execute(page, block)
    type_into(page, f"{block}.querySelector('tr[data-param-name=\"ref\"] input')", ref)
    body = page.evaluate(f"{block}.querySelector('textarea.body-param__text').value")
    status, answer = execute(page, block, what)
    return body, status, answer


def test_docs_ui_keeps_authorization_and_runs_example_bodies(served_api):
    base, _, ticket = served_api
    key = served_api.dispatcher_key
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Chromium(window=(1280, 1400)) as browser:
        page = browser.new_page()
        try:
            check_examples(page, base, key, ticket)
        except Exception:
            page.screenshot(ARTIFACTS / "failure-examples.png", full_page=False)
            (ARTIFACTS / "failure-examples.html").write_text(page.evaluate("document.body.outerHTML") or "")
            raise
        finally:
            page.close()


def check_examples(page, base: str, key: str, ticket: dict) -> None:
    page.navigate(f"{base}/docs")
    page.wait_for("document.querySelector('.swagger-ui .info .title')", 60, "Swagger UI to render")
    authorize_with_key(page, key)

    # Reload: still authorized (the dialog's lock shows it, and a call carries the key)
    page.send("Page.reload", ignoreCache=True)
    page.wait_for("document.querySelector('.swagger-ui .info .title')", 60, "Swagger UI to render again")
    assert page.wait_for("document.querySelector('.btn.authorize.locked')", 10, "the Authorize button locked")
    tags = page.evaluate("[...document.querySelectorAll('.opblock-tag-section h3 .nostyle span')].map(e => e.textContent)")
    assert tags[:3] == ["review", "lifecycle", "tickets"], tags
    page.screenshot(ARTIFACTS / "docs-overview.png", full_page=False)
    me = opblock("/api/v1/auth/me")
    try_out_and_execute(page, me)
    status, answer = execute(page, me, "who am I")
    assert status.startswith("200") and json.loads(answer)["role"] == "dispatcher", (status, answer)

    # Dispatch and start with the bodies the docs pre-fill, on the real ticket
    body, status, answer = run_with_example(page, "/api/v1/tickets/{ref}/dispatch", ticket["number"], "dispatch")
    assert "string" not in body and json.loads(body)["department_id"] == "traffic-police", body
    assert status.startswith("200"), (status, answer)
    assert json.loads(answer)["status"] == "dispatched" and json.loads(answer)["department_id"] == "traffic-police"
    dispatch = opblock("/api/v1/tickets/{ref}/dispatch", "post")
    page.evaluate(f"{dispatch}.scrollIntoView({{block: 'start'}})")
    page.screenshot(ARTIFACTS / "docs-dispatch.png", full_page=False)

    body, status, answer = run_with_example(page, "/api/v1/tickets/{ref}/start", ticket["number"], "start")
    assert "string" not in body, body
    assert status.startswith("200") and json.loads(answer)["status"] == "in_progress", (status, answer)

    history = httpx.get(f"{base}/api/v1/tickets/{ticket['number']}/history", headers={"X-API-Key": key}).json()
    assert [e["action"] for e in history] == ["created", "dispatch", "start"]
    notes = [e["note"] for e in history if e["note"]]
    assert notes and not any("string" in n for n in notes), notes
