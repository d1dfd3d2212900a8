"""Footage from the object store: download a presigned URL once into the worker's cache.

The API hands workers footage it holds in the object store as a presigned URL (an S3 URL, or
an API path for the local store, resolved against ``settings.api_url``), so workers need no
store credentials. A file is cached under ``HOME/cache/footage/<sha256 of the URL path>`` and
written atomically (temp file, rename): a worker killed mid-download leaves no half file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx


def fetch(url: str, name: str = "footage", timeout_s: float = 60.0) -> str:
    from gridsight.settings import get_settings

    s = get_settings()
    if url.startswith("/"):
        url = urljoin(s.api_url.rstrip("/") + "/", url.lstrip("/"))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OSError(f"{name}: unsupported footage URL scheme {parts.scheme!r}")
    folder = s.cache_dir / "footage"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = Path(name).suffix or Path(parts.path).suffix
    target = folder / (hashlib.sha256(parts.path.encode()).hexdigest() + suffix)
    if target.is_file():
        return str(target)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as out, httpx.stream("GET", url, timeout=timeout_s, trust_env=False) as resp:
            if resp.status_code != 200:
                raise OSError(f"{name}: footage download failed: HTTP {resp.status_code}")
            for chunk in resp.iter_bytes(1 << 20):
                out.write(chunk)
        os.replace(tmp, target)
    except httpx.HTTPError as exc:
        raise OSError(f"{name}: footage download failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(target)
