"""Small JPEGs of a ticket's evidence for the review console: made once, then read from a cache.

* ``frame``: the annotated frame (else the raw one) shrunk to :data:`FRAME_WIDTH` pixels wide.
* ``crop``: the problem region zoomed: the ticket's ``crop`` evidence when it has one, else the
  union of its detection boxes cut from the annotated (else raw) frame with a margin around it,
  scaled to fit :data:`CROP_SIZE`.

A thumbnail is named by what it is made from (the evidence object, the kind, the box), so a
stored image never changes under its name: cached files need no invalidation. The cache is a
folder (``GRIDSIGHT_HOME/cache/thumbnails``); each API host makes its own on first request.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from api.services.errors import NotFound
from api.services.queue import focus_box

KINDS = ("frame", "crop")
FRAME_WIDTH = 320
CROP_SIZE = 240  # the crop fits a CROP_SIZE x CROP_SIZE square
MARGIN = 0.35  # of the box's larger side, on every side
MIN_CROP = 48  # source pixels: a tiny box still shows some context
QUALITY = 80
VERSION = "1"  # bump when the recipe changes: new names, old files simply unused


def source_of(evidence: list | None, kind: str) -> tuple[str, bool] | None:
    """(object key, is it a stored crop) the thumbnail is made from, or None without evidence."""
    by_kind = {e.get("kind"): e["object_key"] for e in evidence or [] if e.get("object_key")}
    if kind == "crop" and "crop" in by_kind:
        return by_kind["crop"], True
    for k in ("annotated", "raw"):
        if k in by_kind:
            return by_kind[k], False
    return None


def cache_name(object_key: str, kind: str, box: list[float] | None) -> str:
    what = f"{VERSION}|{object_key}|{kind}|{box if kind == 'crop' else ''}"
    return hashlib.sha256(what.encode()).hexdigest()[:40] + ".jpg"


def crop_region(shape: tuple[int, ...], box: list[float]) -> tuple[int, int, int, int]:
    """The box with a margin, at least :data:`MIN_CROP` wide and high, clipped to the image."""
    h, w = shape[:2]
    x1, y1, x2, y2 = box
    pad = max(x2 - x1, y2 - y1) * MARGIN
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max((x2 - x1) / 2 + pad, MIN_CROP / 2)
    half_h = max((y2 - y1) / 2 + pad, MIN_CROP / 2)
    left, right = int(max(0, cx - half_w)), int(min(w, cx + half_w))
    top, bottom = int(max(0, cy - half_h)), int(min(h, cy + half_h))
    if right - left < 2 or bottom - top < 2:  # a box outside the picture: show the whole picture
        return 0, 0, w, h
    return left, top, right, bottom


def _fit(img: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def render(data: bytes, kind: str, box: list[float] | None, stored_crop: bool) -> bytes:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise NotFound("the evidence image cannot be decoded")
    if kind == "frame":
        img = _fit(img, FRAME_WIDTH, FRAME_WIDTH * 4)
    else:
        if box is not None and not stored_crop:
            left, top, right, bottom = crop_region(img.shape, box)
            img = img[top:bottom, left:right]
        img = _fit(img, CROP_SIZE, CROP_SIZE)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1].tobytes()


class ThumbnailCache:
    """Thumbnails on disk under ``folder``, made from the object store on a miss."""

    def __init__(self, folder: str | os.PathLike, store) -> None:
        self.folder = Path(folder)
        self.store = store

    def plan(self, evidence: list | None, detections: list | None, kind: str) -> tuple[Path, str, list | None, bool]:
        """Where the thumbnail lives and what makes it (no I/O; NotFound without evidence)."""
        source = source_of(evidence, kind)
        if source is None:
            raise NotFound("the ticket has no evidence image")
        key, stored_crop = source
        box = focus_box(detections)
        return self.folder / cache_name(key, kind, box), key, box, stored_crop

    def get(self, path: Path, key: str, kind: str, box: list | None, stored_crop: bool) -> bytes:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        jpeg = render(self.store.get(key), kind, box, stored_crop)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(jpeg)
        os.replace(tmp, path)  # atomic: concurrent makers write the same bytes
        return jpeg
