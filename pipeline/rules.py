"""Issue rules from ``configs/issues.yaml``: which objects, where, how sure, how long.

:class:`RuleBook` holds the rules that can fire on one camera (the detector must know at least
one of a rule's classes: a model without ``fire`` never reports fire) and, for every frame,
says for each (issue type, place) whether the rule's objects are there (:class:`Observation`).
Timing (persistence, clearing, reopening) is the incidents stage's job.

>>> rule = IssueRule("illegal_parking", classes=("car",), zones=("no_parking",), dwell_s=60)
>>> rule.places([Zone("kerb", "no_parking", [(0, 0), (10, 0), (10, 10)])])[0].id
'kerb'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from pipeline.track import Track
from pipeline.zones import ZONE_KINDS, Zone, whole_frame

SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class IssueRule:
    issue_type: str
    classes: tuple[str, ...]
    zones: tuple[str, ...] = ("any",)
    min_score: float = 0.35
    persistence_s: float = 0.0
    dwell_s: float = 0.0
    min_area_share: float = 0.0
    clear_s: float = 60.0
    reopen_s: float = 600.0
    category: str = ""
    name_en: str = ""
    name_zh: str = ""
    severity: str = "medium"

    def places(self, zones: list[Zone]) -> list[Zone]:
        """Where this rule is judged on a camera with ``zones``: the whole frame for ``any``,
        else every zone of a listed kind (a zone of kind ``any`` takes every rule)."""
        if "any" in self.zones:
            return [whole_frame()]
        return [z for z in zones if z.kind in self.zones or z.kind == "any"]

    def name(self, language: str) -> str:
        if language == "zh":
            return self.name_zh or self.name_en or self.issue_type
        if language == "en+zh" and self.name_zh:
            return f"{self.name_en or self.issue_type} {self.name_zh}"
        return self.name_en or self.issue_type


@dataclass
class Observation:
    """What one frame says about one rule at one place."""

    rule: IssueRule
    place: Zone
    present: bool  # the rule's objects are there (stationary ones only, for dwell rules)
    subjects: list[Track] = field(default_factory=list)
    score: float = 0.0  # best subject score
    dwell_s: float = 0.0  # longest subject dwell
    coverage: float = 0.0  # share of the place covered (area rules)

    @property
    def ready(self) -> bool:
        """Enough to open an incident once presence has lasted persistence_s."""
        return self.present and self.dwell_s >= self.rule.dwell_s


def load_rules(path: str | Path) -> dict[str, IssueRule]:
    """Issue types from a YAML file; ValueError with the type and field on bad input."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read issue types from {path}: {' '.join(str(exc).split())}") from exc
    types = doc.get("issue_types")
    if not isinstance(types, dict) or not types:
        raise ValueError(f"{path}: no issue_types")
    rules = {}
    for name, spec in types.items():
        spec = spec or {}
        r = dict(spec.get("rule") or {})
        if not r.get("classes"):
            raise ValueError(f"{path}: issue type {name!r}: rule.classes is required")
        zones = tuple(r.pop("zones", None) or ("any",))
        bad = [z for z in zones if z not in ZONE_KINDS]
        if bad:
            raise ValueError(f"{path}: issue type {name!r}: unknown zone kinds {bad}")
        severity = spec.get("severity", "medium")
        if severity not in SEVERITIES:
            raise ValueError(f"{path}: issue type {name!r}: severity {severity!r} not in {SEVERITIES}")
        known = {"min_score", "persistence_s", "dwell_s", "min_area_share", "clear_s", "reopen_s"}
        unknown = set(r) - known - {"classes"}
        if unknown:
            raise ValueError(f"{path}: issue type {name!r}: unknown rule fields {sorted(unknown)}")
        try:
            nums = {k: float(r[k]) for k in known if k in r}
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: issue type {name!r}: rule numbers: {exc}") from exc
        rules[name] = IssueRule(str(name), tuple(str(c) for c in r["classes"]), zones, **nums,
                                category=str(spec.get("category", "")), name_en=str(spec.get("name_en", "")),
                                name_zh=str(spec.get("name_zh", "")), severity=severity)
    return rules


class RuleBook:
    """The rules that can fire on one camera, each with its places."""

    def __init__(self, rules: dict[str, IssueRule] | list[IssueRule], zones: list[Zone],
                 model_classes: set[str] | None = None) -> None:
        rules = list(rules.values()) if isinstance(rules, dict) else list(rules)
        if model_classes is not None:
            rules = [r for r in rules if set(r.classes) & model_classes]
        self.entries = [(r, p) for r in rules for p in r.places(zones)]

    @property
    def active(self) -> bool:
        return bool(self.entries)

    def watched_places(self) -> list[Zone]:
        """Every place a rule watches (for motion masks)."""
        seen, out = set(), []
        for _, p in self.entries:
            if p.id not in seen:
                seen.add(p.id)
                out.append(p)
        return out

    def needs_stationary(self) -> bool:
        return any(r.dwell_s > 0 for r, _ in self.entries)

    def evaluate(self, tracks: list[Track], shape: tuple[int, ...]) -> list[Observation]:
        out = []
        xyxy = np.array([t.xyxy for t in tracks], np.float32).reshape(-1, 4)
        for rule, place in self.entries:
            wanted = np.array([t.class_name in rule.classes and t.score >= rule.min_score
                               and (rule.dwell_s <= 0 or t.stationary) for t in tracks], bool)
            inside = place.contains_boxes(xyxy, shape) & wanted if len(tracks) else wanted
            subjects = [t for t, ok in zip(tracks, inside) if ok]
            coverage = 0.0
            present = bool(subjects)
            if rule.min_area_share > 0:
                # area rules: any box overlapping the place counts toward the covered share
                coverage = place.coverage(xyxy[wanted], shape) if wanted.any() else 0.0
                subjects = [t for t, ok in zip(tracks, wanted) if ok and place.coverage(t.xyxy[None], shape) > 0]
                present = coverage >= rule.min_area_share
            out.append(Observation(rule, place, present, subjects,
                                   score=max((t.score for t in subjects), default=0.0),
                                   dwell_s=max((t.dwell_s for t in subjects), default=0.0), coverage=coverage))
        return out
