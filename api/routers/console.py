"""The review console at ``/console``: plain HTML, CSS and JavaScript from ``api/console/static``.

No build step and nothing from the network: every file the page loads is served here, and the
page's Content-Security-Policy lets it load nothing else (map tiles only from the city's own
tile server, when ``GRIDSIGHT_MAP_TILES`` names one). The page signs in against the API itself
(``POST /api/v1/auth/token`` or an API key) and calls the same endpoints, with the same roles,
as any other client.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"
TYPES = {".js": "application/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
         ".txt": "text/plain"}

router = APIRouter(include_in_schema=False)


def _tile_origin(template: str) -> str:
    parts = urlsplit(template)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""


@router.get("/console")
async def console_page(request: Request) -> HTMLResponse:
    tiles = request.app.state.gs.settings.map_tiles
    origin = _tile_origin(tiles)
    config = html.escape(json.dumps({"tiles": tiles if origin else ""}), quote=True)
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("__CONFIG__", config)
    csp = (f"default-src 'self'; img-src 'self' blob: data: {origin}".rstrip() + "; style-src 'self'; "
           "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
    return HTMLResponse(page, headers={"Content-Security-Policy": csp, "Cache-Control": "no-cache",
                                       "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})


@router.get("/console/static/{name}")
async def console_asset(name: str) -> FileResponse:
    path = STATIC / name
    if "/" in name or name.startswith(".") or path.suffix not in TYPES or not path.is_file():
        raise HTTPException(404, f"no console file {name!r}")
    return FileResponse(path, media_type=TYPES[path.suffix], headers={"Cache-Control": "no-cache"})
