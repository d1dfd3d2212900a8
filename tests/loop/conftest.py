"""Fixtures of the closed-loop tests: the ticket API's (both databases, manual clock, a key per
role; see tests/api/conftest.py) plus a JPEG maker."""

from __future__ import annotations

import cv2
import numpy as np

from tests.api.conftest import api, db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)


def jpeg(color=(90, 120, 150), size=(120, 160), text: str = "") -> bytes:
    img = np.full((*size, 3), color, np.uint8)
    if text:
        cv2.putText(img, text, (5, size[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return cv2.imencode(".jpg", img)[1].tobytes()
