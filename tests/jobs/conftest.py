"""Fixtures for distributed jobs: real Redis (DB 5), the real ticket API, real worker processes.

* ``redis_db``: Redis database 5 on 127.0.0.1:6379, flushed before and after (only DB 5);
* ``ticket_api``: ``gridsight api serve`` in a subprocess on a free loopback port, SQLite in a
  temporary folder, an ingest key; ``tickets()`` reads what it stored;
* ``workers``: starts ``gridsight worker`` processes (the scripted colour detector), kills
  them at the end; ``env`` is what every process shares (Redis URL, API URL and key, a short
  visibility timeout so a killed worker's segment comes back within seconds).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gridsight.paths import REPO_ROOT
from tests.jobs.scene import CAMERA, make_clip
from tests.services import free_port

REDIS_URL = "redis://127.0.0.1:6379/5"
API_KEY = "gs-test-ingest-key-0123456789"
DETECTOR = "tests.jobs.scene:make_detector"
VISIBILITY_S = 6


@pytest.fixture(scope="session")
def redis_db():
    import redis

    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        r.ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379 (make test starts it: scripts/services.sh)")
    r.flushdb()
    yield r
    r.flushdb()


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("footage") / "scene.mp4")


@pytest.fixture(scope="session")
def base_env(tmp_path_factory) -> dict:
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ)
    env.update({"GRIDSIGHT_REDIS_URL": REDIS_URL, "GRIDSIGHT_API_KEY": API_KEY, "GRIDSIGHT_HOME": str(home),
                "GRIDSIGHT_JOBS_VISIBILITY_TIMEOUT_S": str(VISIBILITY_S), "GRIDSIGHT_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(REPO_ROOT), "PYTHONUNBUFFERED": "1"})
    return env


class TicketAPI:
    def __init__(self, proc, url: str, db: Path) -> None:
        self.proc, self.url, self.db = proc, url, db

    def tickets(self, job_id: str | None = None) -> list[dict]:
        with sqlite3.connect(self.db) as con:
            con.row_factory = sqlite3.Row
            q = "SELECT dedup_key, seq, issue_type, zone_id, job_id, detected_at, evidence FROM tickets"
            rows = con.execute(q + (" WHERE job_id = ?" if job_id else ""), (job_id,) if job_id else ()).fetchall()
            return [dict(r) for r in rows]


def start_api(base_env: dict, db: Path, clip: Path, port: int | None = None) -> TicketAPI:
    """``gridsight api serve`` on SQLite file ``db`` (kept across restarts on the same port)."""
    import httpx

    port = port or free_port()
    env = dict(base_env, GRIDSIGHT_DATABASE_URL=f"sqlite:///{db}", GRIDSIGHT_API_PORT=str(port),
               GRIDSIGHT_LOG_LEVEL="WARNING", GRIDSIGHT_JOBS_ALLOWED_ROOTS=json.dumps([str(clip.parent)]))
    log = open(db.parent / "api.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "gridsight.cli", "api", "serve", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1, trust_env=False).status_code == 200:
                return TicketAPI(proc, url, db)
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"ticket API exited: {(db.parent / 'api.log').read_text()[-2000:]}")
        time.sleep(0.3)
    proc.kill()
    raise RuntimeError("ticket API did not start in 60 s")


@pytest.fixture(scope="session")
def ticket_api(base_env, tmp_path_factory, clip):
    api = start_api(base_env, tmp_path_factory.mktemp("api") / "tickets.db", clip)
    base_env["GRIDSIGHT_API_URL"] = api.url
    yield api
    api.proc.terminate()
    api.proc.wait(10)


class Workers:
    def __init__(self, env: dict, logdir: Path) -> None:
        self.env, self.logdir, self.procs = env, logdir, []

    def start(self, *extra: str, concurrency: int = 1, detector: str | None = DETECTOR) -> subprocess.Popen:
        """A worker process; ``detector=None``: the registry's default model (the real detector)."""
        log = open(self.logdir / f"worker-{len(self.procs)}.log", "w")
        det = ["--detector", detector] if detector else []
        proc = subprocess.Popen([sys.executable, "-m", "gridsight.cli", "worker", "--concurrency", str(concurrency),
                                 "--device", "cpu", *det, *extra],
                                cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
        os.killpg(proc.pid, sig)
        proc.wait(15)

    def stop_all(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs = []


@pytest.fixture
def workers(base_env, ticket_api, redis_db, tmp_path):
    w = Workers(base_env, tmp_path)
    yield w
    w.stop_all()


@pytest.fixture
def job_env(base_env, redis_db, ticket_api):
    """This test talks to the same Redis and API as the workers; the environment and settings
    are restored afterwards, so tests of other areas in the same session never see them."""
    from gridsight.settings import get_settings

    old = {k: os.environ.get(k) for k in base_env if k.startswith("GRIDSIGHT_")}
    os.environ.update({k: v for k, v in base_env.items() if k.startswith("GRIDSIGHT_")})
    get_settings.cache_clear()
    yield base_env
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()


def camera_options(**extra) -> dict:
    return {"camera": CAMERA, **extra}
