"""The docs UI (Swagger UI at ``/docs``) served from local files: no CDN, works offline.

FastAPI's own ``/docs`` page loads Swagger UI from cdn.jsdelivr.net, which a machine without
internet access (or a browser started with networking off) never reaches. This router serves
the Swagger UI 5 (and ReDoc) bundles shipped in the pinned ``fastapi-offline`` wheel under
``/static-offline-docs/`` and a ``/docs`` page that uses it (OpenAPI 3.1, OAuth2 Authorize
included) and ``/redoc``; at start-up its lifespan drops FastAPI's CDN pages so these answer.

The Authorize dialog's credentials persist across reloads (``persistAuthorization``: Swagger UI
keeps them in the browser's local storage, for this origin, until Logout); a filter box finds
operations by tag.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

STATIC_URL = "/static-offline-docs"
SWAGGER_UI = {"persistAuthorization": True, "filter": True, "displayRequestDuration": True}
ASSETS = {"swagger-ui-bundle.js": "application/javascript", "swagger-ui.css": "text/css",
          "redoc.standalone.js": "application/javascript", "favicon.png": "image/png"}


def assets_dir() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


async def lifespan(app):
    """Remove FastAPI's CDN-based docs pages; ours (same paths) then answer."""
    cdn_pages = {getattr(app, "docs_url", None), getattr(app, "redoc_url", None)} - {None}
    app.router.routes[:] = [r for r in app.router.routes
                            if not (getattr(r, "path", None) in cdn_pages
                                    and getattr(r, "endpoint", None) not in (docs_page, redoc_page))]
    yield


router = APIRouter(include_in_schema=False, lifespan=lifespan)


@router.get(STATIC_URL + "/{name}")
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise HTTPException(404, f"no docs asset {name!r}")
    return FileResponse(assets_dir() / name, media_type=ASSETS[name],
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/docs")
async def docs_page(request: Request) -> HTMLResponse:
    app = request.app
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{app.openapi_url}",
        title=f"{app.title} - Swagger UI",
        oauth2_redirect_url=app.swagger_ui_oauth2_redirect_url,
        swagger_js_url=f"{root}{STATIC_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{STATIC_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{STATIC_URL}/favicon.png",
        swagger_ui_parameters={**SWAGGER_UI, **(app.swagger_ui_parameters or {})},
        init_oauth=app.swagger_ui_init_oauth,
    )


@router.get("/redoc")
async def redoc_page(request: Request) -> HTMLResponse:
    app = request.app
    root = request.scope.get("root_path", "")
    return get_redoc_html(openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
                          redoc_js_url=f"{root}{STATIC_URL}/redoc.standalone.js",
                          redoc_favicon_url=f"{root}{STATIC_URL}/favicon.png", with_google_fonts=False)
