"""The ticket API under uvicorn on a free loopback port, for the browser tests."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from tests.services import free_port, serving


@contextmanager
def running_api(env: dict, home: Path):
    """Serve ``api.app:create_app`` with ``env``; yields the base URL (log in ``home/uvicorn.log``)."""
    port = free_port()
    with serving([sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--host", "127.0.0.1",
                  "--port", str(port), "--log-level", "warning"], port, env, home / "uvicorn.log") as (base, _):
        yield base
