"""Fixtures of the pipeline tests: the real ticket API (``gridsight api serve``) on a loopback
port, SQLite in a temporary folder, with the pipeline's ingest key; it can be stopped and
started again on the same port and database (an outage)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gridsight.paths import REPO_ROOT
from tests.services import free_port

INGEST_KEY = "gs-pipeline-test-ingest-key-0123456789"


class TicketApi:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = folder / "tickets.db"
        self.env = dict(os.environ, GRIDSIGHT_DATABASE_URL=f"sqlite:///{self.db}", GRIDSIGHT_API_KEY=INGEST_KEY,
                        GRIDSIGHT_HOME=str(folder / "home"), GRIDSIGHT_LOG_LEVEL="WARNING",
                        PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> "TicketApi":
        log = open(self.folder / "api.log", "a")
        self.proc = subprocess.Popen([sys.executable, "-m", "gridsight.cli", "api", "serve", "--port", str(self.port)],
                                     cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"ticket API exited: {(self.folder / 'api.log').read_text()[-2000:]}")
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("ticket API did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def tickets(self) -> list[dict]:
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as con:
            con.row_factory = sqlite3.Row
            rows = con.execute("SELECT dedup_key, seq, issue_type, camera_id, zone_id, incident_state, score, "
                               "detected_at, last_seen_at, evidence, detections, address FROM tickets "
                               "ORDER BY id").fetchall()
        out = []
        for r in rows:
            d = dict(r)
            for k in ("evidence", "detections"):
                d[k] = json.loads(d[k]) if isinstance(d[k], str) else d[k]
            out.append(d)
        return out


@pytest.fixture
def ticket_api(tmp_path):
    api = TicketApi(tmp_path)
    yield api
    api.stop()
