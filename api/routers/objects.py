"""``GET /api/v1/objects/{key}``: the local object store's presigned URLs.

With the embedded :class:`~api.storage.objects.LocalStore`, ``presigned_url`` makes
``/api/v1/objects/<key>?expires=<unix>&signature=<hex>``; this route serves such a URL without
other credentials while it is genuine and unexpired (403 otherwise). With S3 the presigned URLs
point at the S3 server itself and this route answers 404.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.storage.objects import LocalStore, check_key, content_type_of

router = APIRouter(prefix="/api/v1", tags=["tickets"])


@router.get("/objects/{key:path}", summary="Evidence by presigned URL (local object store)",
            response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}, "description": "the stored bytes"},
                       403: {"description": "signature wrong or expired"},
                       404: {"description": "no such object, or the store is S3"}})
async def get_object(request: Request, key: str, expires: int = Query(..., ge=0),
                     signature: str = Query(..., min_length=64, max_length=64)) -> Response:
    store = request.app.state.gs.store
    if not isinstance(store, LocalStore):
        raise HTTPException(404, "objects are served by the S3 server's presigned URLs")
    check_key(key)  # ObjectNotFound -> 404 (app handler)
    if not store.verify_signature(key, expires, signature):
        raise HTTPException(403, "the URL's signature is wrong or it has expired; ask for a new one")
    data = await run_in_threadpool(store.get, key)
    max_age = max(0, int(expires - time.time()))
    return Response(data, media_type=content_type_of(key),
                    headers={"Cache-Control": f"private, max-age={max_age}",
                             "X-Content-Type-Options": "nosniff"})
