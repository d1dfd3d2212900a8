"""Decoding uploads within a memory budget: a 47 kB PNG can be a 49-megapixel picture.

Two limits (settings, docs/api.md "Security"):

* per request: the pixels of all files of one request (``upload_max_request_pixels``), checked from
  the headers before anything is decoded (413);
* per process: the pixels being decoded at once (``decode_budget_pixels``, a counting semaphore
  over pixels). A decode waits for room up to ``decode_wait_s``, then answers 429.

A picture is decoded no larger than the detector and the evidence need (``decode_max_side``
pixels on the long side) with ``IMREAD_REDUCED_COLOR_2/4/8``: a JPEG straight at that scale (the
full frame never exists), other formats decoded in full and shrunk at once, the full frame dropped.
:func:`to_source` maps detections back to the upload's own pixels.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np

from api.services.errors import Invalid, ServiceError, TooLarge

REDUCED = {2: "IMREAD_REDUCED_COLOR_2", 4: "IMREAD_REDUCED_COLOR_4", 8: "IMREAD_REDUCED_COLOR_8"}


class Busy(ServiceError):
    """Too many pixels are being decoded in this process; retry shortly (429)."""

    status_code = 429


class DecodeBudget:
    """Pixels this process may hold decoding at once; :meth:`hold` waits for room."""

    def __init__(self, pixels: int, wait_s: float) -> None:
        self.pixels = pixels
        self.wait_s = wait_s
        self._used = 0
        self._cond = threading.Condition()

    def hold(self, pixels: int):
        return _Hold(self, min(pixels, self.pixels))  # one picture may always use the whole budget

    def _acquire(self, pixels: int) -> None:
        deadline = time.monotonic() + self.wait_s
        with self._cond:
            while self._used + pixels > self.pixels:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Busy(f"the server is decoding other large pictures; retry in a few seconds "
                               f"(GRIDSIGHT_DECODE_BUDGET_PIXELS={self.pixels})")
                self._cond.wait(left)
            self._used += pixels

    def _release(self, pixels: int) -> None:
        with self._cond:
            self._used -= pixels
            self._cond.notify_all()


class _Hold:
    def __init__(self, budget: DecodeBudget, pixels: int) -> None:
        self.budget, self.n = budget, pixels

    def __enter__(self):
        self.budget._acquire(self.n)
        return self

    def __exit__(self, *exc) -> None:
        self.budget._release(self.n)


def check_request_pixels(images, limit: int, field: str = "files") -> None:
    total = sum(im.width * im.height for im in images)
    if total > limit:
        raise TooLarge(f"{field}: {total} pixels in one request, more than the {limit} pixel limit "
                       "(GRIDSIGHT_UPLOAD_MAX_REQUEST_PIXELS)")


def decode_scaled(image, budget: DecodeBudget, max_side: int, field: str = "files") -> tuple[np.ndarray, float]:
    """The picture as BGR at most ``max_side`` on its long side, and the factor from its pixels to
    the upload's (1.0 when not shrunk)."""
    import cv2

    long_side = max(image.width, image.height)
    factor = 1
    while factor < 8 and long_side / (factor * 2) >= max_side:
        factor *= 2
    flags = getattr(cv2, REDUCED[factor]) if factor > 1 else cv2.IMREAD_COLOR
    # JPEG decodes at the reduced scale; other formats in full, then shrink (the budget holds that)
    held = image.width * image.height // (factor * factor if image.content_type == "image/jpeg" else 1)
    with budget.hold(held):
        frame = cv2.imdecode(np.frombuffer(image.data, np.uint8), flags)
        if frame is None:
            raise Invalid(("body", field), f"{image.name}: the image data is corrupt")
        h, w = frame.shape[:2]
        if max(h, w) > max_side:
            s = max_side / max(h, w)
            frame = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    return frame, image.width / frame.shape[1]


def to_source(detections: list[dict], scale: float) -> list[dict]:
    """Detections of a shrunk frame in the upload's own pixels."""
    if scale == 1.0:
        return detections
    return [{**d, "box": [round(v * scale, 2) for v in d["box"]]} for d in detections]


def detections_to_source(dets, scale: float):
    """A :class:`gridsight.issues.detections.Detections` of a shrunk frame in the upload's pixels."""
    if scale == 1.0:
        return dets
    return replace(dets, xyxy=(dets.xyxy * np.float32(scale)).astype(np.float32))
