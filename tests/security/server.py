"""``gridsight api serve`` in its own process (real HTTP, its own memory), for the load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

INGEST_KEY = "gsk_security-tests-ingest-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


@contextmanager
def served(home: Path, database_url: str, **env: str):
    """The API on a free loopback port: ``(base_url, pid)``; the ingest key is :data:`INGEST_KEY`."""
    port = free_port()
    environ = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": database_url,
               "GRIDSIGHT_API_KEY": INGEST_KEY, "GRIDSIGHT_LOG_LEVEL": "WARNING",
               **{f"GRIDSIGHT_{k.upper()}": str(v) for k, v in env.items()}}
    log = open(home / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "gridsight.cli", "api", "serve", "--port", str(port)],
                            env=environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start: {(home / 'server.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def create_key(home: Path, database_url: str, username: str, role: str) -> str:
    """``gridsight api create-key`` (the user made with ``role``): the key's secret."""
    environ = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "gridsight.cli", "api", "create-key", username, "--role", role],
                         env=environ, capture_output=True, text=True, check=True).stdout
    return next(w for w in out.split() if w.startswith("gsk_"))
