"""Point in polygon for grids (lat/lon) and camera zones (pixels).

>>> square = [(0, 0), (0, 10), (10, 10), (10, 0)]
>>> inside(square, 5, 5), inside(square, 11, 5), inside(square, 0, 5)
(True, False, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def inside(polygon: Sequence[Sequence[float]], a: float, b: float) -> bool:
    """Even-odd ray casting; points on an edge count as inside. Coordinates in the polygon's order."""
    n = len(polygon)
    hit = False
    for i in range(n):
        a1, b1 = polygon[i][0], polygon[i][1]
        a2, b2 = polygon[(i + 1) % n][0], polygon[(i + 1) % n][1]
        if _on_segment(a1, b1, a2, b2, a, b):
            return True
        if (b1 > b) != (b2 > b):
            cross = a1 + (b - b1) * (a2 - a1) / (b2 - b1)
            if a < cross:
                hit = not hit
    return hit


def _on_segment(a1, b1, a2, b2, a, b, eps: float = 1e-12) -> bool:
    if abs((a2 - a1) * (b - b1) - (b2 - b1) * (a - a1)) > eps * max(1.0, abs(a2 - a1) + abs(b2 - b1)):
        return False
    return min(a1, a2) - eps <= a <= max(a1, a2) + eps and min(b1, b2) - eps <= b <= max(b1, b2) + eps


def bounds(polygon: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """(min_a, min_b, max_a, max_b) of a polygon."""
    xs = [p[0] for p in polygon]
    ys = [p[1] for p in polygon]
    return min(xs), min(ys), max(xs), max(ys)


def check_polygon(polygon, what: str = "polygon") -> list[list[float]]:
    """At least three [a, b] number pairs; returns them as floats or raises ValueError."""
    try:
        pts = [[float(p[0]), float(p[1])] for p in polygon]
        if any(len(p) != 2 for p in polygon):
            raise ValueError
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{what} must be a list of [a, b] number pairs") from None
    if not all(math.isfinite(v) for p in pts for v in p):
        raise ValueError(f"{what} must hold finite numbers (no NaN or Infinity)")
    if len(pts) < 3:
        raise ValueError(f"{what} needs at least 3 points")
    return pts
