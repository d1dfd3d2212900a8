"""Zones and their geometry: where an object stands, how much of a zone boxes cover.

A zone has a kind (sidewalk, roadway, fire_lane, no_parking, storefront, any). An object is *in*
a zone when its box's bottom-centre (where it stands) is inside the polygon; area rules (water)
are judged by the share of the zone's area covered by the *union* of the boxes (rasterised).
Polygons are in source pixels, or normalised to 0..1 (``normalized: true``) and scaled to the
frame. :func:`points_in_polygon` is the one point-in-polygon test of the project (camera zones
in pixels, city grids in lat/lon).

>>> z = Zone("kerb", "no_parking", [(0, 0), (100, 0), (100, 50), (0, 50)])
>>> z.contains_points(np.array([[50, 49], [50, 60]], np.float32)).tolist()
[True, False]
>>> round(z.coverage(np.array([[0, 0, 50, 50], [25, 0, 75, 50]]), (50, 100)), 2)  # union, not sum
0.75
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

ZONE_KINDS = ("sidewalk", "roadway", "fire_lane", "no_parking", "storefront", "any")
COVERAGE_WIDTH = 160  # area-share masks are rasterised at this width (cheap, plenty for a share)


def points_in_polygon(polygon, xy, eps: float = 1e-12) -> np.ndarray:
    """Boolean (N,) for points (N, 2) inside ``polygon`` (K, 2): even-odd ray casting, points on an
    edge count as inside. Coordinates in the polygon's order (x, y or lat, lon)."""
    poly = np.asarray(polygon, np.float64).reshape(-1, 2)
    pts = np.asarray(xy, np.float64).reshape(-1, 2)
    if len(pts) == 0 or len(poly) == 0:
        return np.zeros(len(pts), bool)
    x, y = pts[:, 0:1], pts[:, 1:2]
    x1, y1 = poly[:, 0], poly[:, 1]
    nxt = np.r_[1:len(poly), 0]
    x2, y2 = x1[nxt], y1[nxt]
    dx, dy = x2 - x1, y2 - y1
    crosses = (y1 > y) != (y2 > y)
    # a horizontal edge never crosses the ray: any divisor will do there (no division by zero)
    xint = x1 + (y - y1) * dx / np.where(dy == 0, 1.0, dy)
    inside = np.logical_and(crosses, x < xint).sum(axis=1) % 2 == 1
    cross = dx * (y - y1) - dy * (x - x1)
    on_line = np.abs(cross) <= eps * np.maximum(1.0, np.abs(dx) + np.abs(dy))
    on_edge = (on_line & (np.minimum(x1, x2) - eps <= x) & (x <= np.maximum(x1, x2) + eps)
               & (np.minimum(y1, y2) - eps <= y) & (y <= np.maximum(y1, y2) + eps)).any(axis=1)
    return inside | on_edge


def bounds(polygon: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """(min_a, min_b, max_a, max_b) of a polygon."""
    pts = np.asarray(polygon, np.float64).reshape(-1, 2)
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def check_polygon(polygon, what: str = "polygon") -> list[list[float]]:
    """At least three finite [a, b] number pairs; returns them as floats or raises ValueError."""
    try:
        if any(len(p) != 2 for p in polygon):
            raise ValueError
        pts = [[float(p[0]), float(p[1])] for p in polygon]
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{what} must be a list of [a, b] number pairs") from None
    if len(pts) < 3:
        raise ValueError(f"{what} needs at least 3 points")
    if not np.isfinite(pts).all():
        raise ValueError(f"{what}: every coordinate must be a finite number")
    return pts


def _upright_rectangle(polygon: Sequence[Sequence[float]]) -> bool:
    """Four corners of an axis-aligned rectangle, in order (every edge along one axis: no bow-tie)."""
    p = [tuple(q) for q in polygon]
    if len(p) != 4 or len({x for x, _ in p}) != 2 or len({y for _, y in p}) != 2 or len(set(p)) != 4:
        return False
    return all((p[i][0] == p[(i + 1) % 4][0]) != (p[i][1] == p[(i + 1) % 4][1]) for i in range(4))


@dataclass
class Zone:
    id: str
    kind: str
    polygon: list[tuple[float, float]]
    normalized: bool = False
    _scaled: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ZONE_KINDS:
            raise ValueError(f"zone {self.id!r}: kind {self.kind!r} is not one of {', '.join(ZONE_KINDS)}")
        pts = np.asarray(check_polygon(self.polygon, f"zone {self.id!r}: polygon"), np.float32)
        if self.normalized and (pts.min() < 0 or pts.max() > 1):
            raise ValueError(f"zone {self.id!r}: normalized polygon points must lie in 0..1")
        self.polygon = [(float(x), float(y)) for x, y in pts]
        self._upright = _upright_rectangle(self.polygon)  # scaling to a frame keeps it one

    def points(self, shape: tuple[int, ...]) -> np.ndarray:
        """(K, 2) float32 polygon in pixels of a frame of ``shape`` (H, W, ...)."""
        h, w = shape[:2]
        pts = self._scaled.get((h, w))
        if pts is None:
            pts = np.asarray(self.polygon, np.float32)
            if self.normalized:
                pts = pts * np.array([w, h], np.float32)
            self._scaled[(h, w)] = pts
        return pts

    def contains_points(self, xy: np.ndarray, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Boolean (N,) for points (N, 2) inside the polygon (edges inclusive)."""
        poly = self.points(shape) if shape is not None else np.asarray(self.polygon, np.float32)
        if self._upright:  # an upright rectangle (a whole frame, a kerb strip): the same answer, 10x cheaper
            x1, y1, x2, y2 = bounds(poly)
            pts = np.asarray(xy, np.float64).reshape(-1, 2)
            return (pts[:, 0] >= x1) & (pts[:, 0] <= x2) & (pts[:, 1] >= y1) & (pts[:, 1] <= y2)
        return points_in_polygon(poly, xy)

    def contains_boxes(self, xyxy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Boolean (N,) for boxes whose bottom-centre stands in the zone."""
        xyxy = np.asarray(xyxy, np.float32).reshape(-1, 4)
        bc = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)
        return self.contains_points(bc, shape)

    def mask(self, shape: tuple[int, ...], width: int | None = None) -> np.ndarray:
        """uint8 mask (255 inside) of a frame of ``shape``, optionally rasterised at ``width``."""
        h, w = shape[:2]
        s = 1.0 if width is None else width / w
        mh, mw = max(1, round(h * s)), max(1, round(w * s))
        m = np.zeros((mh, mw), np.uint8)
        cv2.fillPoly(m, [np.round(self.points(shape) * s).astype(np.int32)], 255)
        return m

    def _raster(self, shape: tuple[int, ...]) -> tuple[np.ndarray, int, float]:
        """(zone mask at COVERAGE_WIDTH, its area in cells, pixels -> cells scale), cached per frame size."""
        key = ("raster", *shape[:2])
        if key not in self._scaled:
            zone = self.mask(shape, COVERAGE_WIDTH)
            self._scaled[key] = (zone, int(np.count_nonzero(zone)), zone.shape[1] / shape[1])
        return self._scaled[key]

    def _cells(self, xyxy: np.ndarray, s: float) -> np.ndarray:
        return np.round(np.asarray(xyxy, np.float64).reshape(-1, 4) * s).astype(np.int64).clip(0)

    def coverage(self, xyxy: np.ndarray, shape: tuple[int, ...]) -> float:
        """Share (0..1) of the zone's area covered by the union of the boxes (rasterised)."""
        zone, area, s = self._raster(shape)
        if area == 0 or len(xyxy) == 0:
            return 0.0
        boxes = np.zeros_like(zone)
        for x1, y1, x2, y2 in self._cells(xyxy, s):
            boxes[y1:y2, x1:x2] = 255
        return float(np.count_nonzero(zone & boxes)) / area

    def overlaps(self, xyxy: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """Boolean (N,) for boxes covering any of the zone (as :meth:`coverage` counts it)."""
        zone, area, s = self._raster(shape)
        return np.array([area > 0 and bool(zone[y1:y2, x1:x2].any()) for x1, y1, x2, y2 in self._cells(xyxy, s)], bool)


FRAME_ID = "frame"


def whole_frame() -> Zone:
    """The place of a rule that applies anywhere in the frame."""
    return Zone(FRAME_ID, "any", [(0, 0), (1, 0), (1, 1), (0, 1)], normalized=True)


def parse_zones(items: list[dict] | None, where: str = "camera") -> list[Zone]:
    """Zones from config dicts ``{id, kind, polygon, normalized}``; ValueError names what is wrong."""
    zones, seen = [], set()
    for i, item in enumerate(items or []):
        if not isinstance(item, dict) or "id" not in item or "polygon" not in item:
            raise ValueError(f"{where}: zone #{i + 1} needs id, kind and polygon")
        zid = str(item["id"])
        if zid in seen:
            raise ValueError(f"{where}: duplicate zone id {zid!r}")
        seen.add(zid)
        zones.append(Zone(zid, str(item.get("kind", "any")), item["polygon"], bool(item.get("normalized", False))))
    return zones
