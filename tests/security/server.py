"""``gridsight api serve`` in its own process (real HTTP, its own memory), for the load tests."""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.services import free_port, serving

INGEST_KEY = "gsk_security-tests-ingest-key-0123456789"


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
    with serving([sys.executable, "-m", "gridsight.cli", "api", "serve", "--port", str(port)], port, environ,
                 home / "server.log", timeout_s=120) as (url, proc):
        yield url, proc.pid


def create_key(home: Path, database_url: str, username: str, role: str) -> str:
    """``gridsight api create-key`` (the user made with ``role``): the key's secret."""
    environ = {**os.environ, "GRIDSIGHT_HOME": str(home), "GRIDSIGHT_DATABASE_URL": database_url}
    out = subprocess.run([sys.executable, "-m", "gridsight.cli", "api", "create-key", username, "--role", role],
                         env=environ, capture_output=True, text=True, check=True).stdout
    return next(w for w in out.split() if w.startswith("gsk_"))
