"""Test services started by fixtures: a real S3 server (OpenStack Swift s3api) on loopback,
:func:`free_port` for every server a test starts on loopback, and :func:`serving` for a server
process that answers ``/healthz``."""

import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(argv: list[str], port: int, env: dict, log_path: Path, *, timeout_s: float = 60.0):
    """Run ``argv``, a server listening on 127.0.0.1:``port`` (output in ``log_path``), until its
    ``/healthz`` answers 200; yields ``(base URL, process)`` and stops the process afterwards."""
    import httpx
    import pytest

    from gridsight.paths import REPO_ROOT

    log = open(log_path, "wb")
    proc = subprocess.Popen(argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield base, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
