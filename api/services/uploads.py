"""Uploaded images -> incidents: the issue rules judged on one picture.

The stream pipeline owns the full rules (persistence, dwell, clearing); an upload is a single
moment, so here a rule holds when a detection of one of its classes reaches its ``min_score``
and, for rules bound to zone kinds, stands (bottom-centre of its box) in a zone of that kind
of the given camera (``min_area_share``: the boxes cover that share of the zone). Rules for
``any`` zone hold anywhere. Persistence and dwell times cannot be judged and are ignored.

The incident key is ``upload:<sha256 of the image>:<issue type>:<zone>``, so uploading the
same picture again updates the same tickets instead of making new ones.
"""

from __future__ import annotations

from api.services.geometry import inside
from api.services.rules import DispatchRules


def polygon_area(poly) -> float:
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(poly, poly[1:] + poly[:1]))) / 2


def zone_pixels(zone, width: int, height: int) -> list[tuple[float, float]]:
    pts = [(float(x), float(y)) for x, y in zone.polygon]
    if (zone.options or {}).get("normalized"):
        pts = [(x * width, y * height) for x, y in pts]
    return pts


def upload_incidents(detections: list[dict], rules: DispatchRules, zones: list, width: int,
                     height: int) -> list[dict]:
    """``[{issue_type, zone_id, score, detections}]`` for the rules this picture satisfies."""
    out = []
    for key, itype in rules.issue_types.items():
        rule = itype.rule or {}
        classes = set(rule.get("classes") or ())
        if not classes:
            continue
        hits = [d for d in detections if d["class_name"] in classes and d["score"] >= float(rule.get("min_score", 0))]
        if not hits:
            continue
        kinds = set(rule.get("zones") or ["any"])
        if "any" in kinds:
            out.append(_incident(key, None, hits))
            continue
        share = float(rule.get("min_area_share") or 0)
        for zone in zones:
            if zone.kind not in kinds:
                continue
            poly = zone_pixels(zone, width, height)
            inside_hits = [d for d in hits if inside(poly, (d["box"][0] + d["box"][2]) / 2, d["box"][3])]
            if not inside_hits:
                continue
            if share:
                covered = sum(max(0.0, d["box"][2] - d["box"][0]) * max(0.0, d["box"][3] - d["box"][1])
                              for d in inside_hits)
                if covered < share * max(polygon_area(poly), 1e-9):
                    continue
            out.append(_incident(key, zone.id, inside_hits))
    return out


def _incident(issue_type: str, zone_id: str | None, hits: list[dict]) -> dict:
    return {"issue_type": issue_type, "zone_id": zone_id, "score": max(d["score"] for d in hits),
            "detections": hits}


def incident_key(sha256: str, issue_type: str, zone_id: str | None) -> str:
    return f"upload:{sha256}:{issue_type}:{zone_id or 'any'}"
