"""Dispatch rules: issue types, type -> department, location -> grid, SLA per type and severity.

Issue types from the core's catalogue (:mod:`gridsight.issues.catalogue`, ``configs/issues.yaml``:
category code, bilingual names, default severity, the rule uploads and photos are judged by),
routing, grids and SLAs from ``configs/dispatch.yaml``.

>>> rules = DispatchRules.from_dicts(
...     {"fire": {"category": "0499", "name_en": "Fire", "name_zh": "火情", "severity": "critical"}},
...     {"routing": {"fire": "fire-rescue"}, "sla": {"default": {"critical": "30m"}}})
>>> rules.department_for("fire"), rules.sla_for("fire", "critical")
('fire-rescue', datetime.timedelta(seconds=1800))
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import yaml

from gridsight.issues import SEVERITIES, IssueRule, load_catalogue, parse_catalogue, points_in_polygon
from gridsight.issues.zones import bounds, check_polygon

DEFAULT_SLA = {"critical": timedelta(hours=1), "high": timedelta(hours=4),
               "medium": timedelta(hours=24), "low": timedelta(hours=72)}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 3600}


def parse_duration(value) -> timedelta:
    """``"30m"``, ``"4h"``, ``"2d"``, ``"90s"``; a bare number means hours."""
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"bad duration {value!r}: use e.g. 30m, 4h, 2d")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class GridShape:
    id: str
    name: str
    polygon: list  # [[lat, lon], ...]
    bbox: tuple[float, float, float, float]  # min_lat, min_lon, max_lat, max_lon

    @classmethod
    def make(cls, id: str, name: str, polygon) -> "GridShape":
        pts = check_polygon(polygon, f"grid {id!r} polygon")
        for lat, lon in pts:
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"grid {id!r}: point [{lat}, {lon}] is not a [lat, lon] pair")
        return cls(id, name, pts, bounds(pts))

    def contains(self, lat: float, lon: float) -> bool:
        a, b, c, d = self.bbox
        return a <= lat <= c and b <= lon <= d and bool(points_in_polygon(self.polygon, [(lat, lon)])[0])


class GridIndex:
    """The grids of the city, to find which grid a location falls in (bbox first, then polygon)."""

    def __init__(self, grids: list[GridShape] | None = None) -> None:
        self.grids = list(grids or [])

    def grid_at(self, lat: float | None, lon: float | None) -> str | None:
        if lat is None or lon is None:
            return None
        for g in self.grids:
            if g.contains(lat, lon):
                return g.id
        return None


@dataclass
class DispatchRules:
    issue_types: dict[str, IssueRule]
    departments: list[dict] = field(default_factory=list)
    routing: dict[str, str] = field(default_factory=dict)
    default_department: str | None = None
    grids: list[GridShape] = field(default_factory=list)
    sla_default: dict[str, timedelta] = field(default_factory=lambda: dict(DEFAULT_SLA))
    sla_types: dict[str, dict[str, timedelta]] = field(default_factory=dict)
    auto_dispatch: frozenset[str] = frozenset()
    escalation_interval_s: float = 60.0

    @classmethod
    def load(cls, configs_dir: Path) -> "DispatchRules":
        types = load_catalogue(configs_dir / "issues.yaml")
        dispatch_file = configs_dir / "dispatch.yaml"
        dispatch = yaml.safe_load(dispatch_file.read_text(encoding="utf-8")) if dispatch_file.exists() else {}
        try:
            return cls.from_catalogue(types, dispatch or {})
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{configs_dir}: {exc}") from exc

    @classmethod
    def from_dicts(cls, issue_types: dict, dispatch: dict) -> "DispatchRules":
        return cls.from_catalogue(parse_catalogue(issue_types), dispatch)

    @classmethod
    def from_catalogue(cls, types: dict[str, IssueRule], dispatch: dict) -> "DispatchRules":
        sla = dispatch.get("sla") or {}
        sla_default = dict(DEFAULT_SLA)
        sla_default.update({s: parse_duration(v) for s, v in (sla.get("default") or {}).items()})
        sla_types = {t: {s: parse_duration(v) for s, v in by_sev.items()}
                     for t, by_sev in (sla.get("types") or {}).items()}
        for by_sev in [sla_default, *sla_types.values()]:
            bad = set(by_sev) - set(SEVERITIES)
            if bad:
                raise ValueError(f"sla: unknown severities {sorted(bad)}")
        grids = [GridShape.make(g["id"], g.get("name", g["id"]), g["polygon"]) for g in dispatch.get("grids") or []]
        escalation = dispatch.get("escalation") or {}
        known = {d["id"] for d in dispatch.get("departments") or []}
        routed = set((dispatch.get("routing") or {}).values()) | {dispatch.get("default_department")} - {None}
        if known and routed - known:
            raise ValueError(f"routing names departments not listed under `departments`: {sorted(routed - known)}")
        return cls(issue_types=types, departments=list(dispatch.get("departments") or []),
                   routing=dict(dispatch.get("routing") or {}),
                   default_department=dispatch.get("default_department"), grids=grids,
                   sla_default=sla_default, sla_types=sla_types,
                   auto_dispatch=frozenset(dispatch.get("auto_dispatch") or ()),
                   escalation_interval_s=float(escalation.get("interval_s", 60)))

    def issue_type(self, key: str) -> IssueRule | None:
        return self.issue_types.get(key)

    def department_for(self, issue_type: str) -> str | None:
        return self.routing.get(issue_type, self.default_department)

    def sla_for(self, issue_type: str, severity: str) -> timedelta:
        return self.sla_types.get(issue_type, {}).get(severity) or self.sla_default[severity]

    def auto_dispatches(self, issue_type: str) -> bool:
        return issue_type in self.auto_dispatch
