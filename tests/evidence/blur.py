"""Is a region of a stored image blurred? Its fine detail (Laplacian) no longer follows the original's."""

from __future__ import annotations

import cv2
import numpy as np


def detail_match(original: np.ndarray, stored: np.ndarray, box) -> float:
    """Correlation of the Laplacians of ``original`` and ``stored`` (same size) inside the inner part
    of ``box``: ~1 where the stored image shows the original, ~0 where it was blurred."""
    x1, y1, x2, y2 = box
    dx, dy = (x2 - x1) * 0.15, (y2 - y1) * 0.15
    x1, y1, x2, y2 = int(x1 + dx), int(y1 + dy), int(x2 - dx), int(y2 - dy)
    if x2 - x1 < 3 or y2 - y1 < 3:
        return 0.0
    a, b = (cv2.Laplacian(cv2.cvtColor(im[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY).astype(np.float32), cv2.CV_32F).ravel()
            for im in (original, stored))
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def unblurred(original: np.ndarray, stored: np.ndarray, boxes, limit: float = 0.3) -> list:
    """The boxes whose content is still recognisable in ``stored``."""
    return [b for b in boxes if detail_match(original, stored, b) > limit]


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
