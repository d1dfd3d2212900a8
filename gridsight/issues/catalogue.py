"""The issue-type catalogue from ``configs/issues.yaml``: names, category codes, severity and rule.

One loader for the pipeline (the ``rule`` part: which objects, where, how sure, how long) and
the ticket API (category code, bilingual names, default severity). An issue type without a
``rule`` is a type people report (Open311, uploads) that no detector judges.

The score a detection of a class must reach for a rule (:func:`min_score`), first that holds:

1. the camera's ``sensitivity: {<issue type>: {min_score: S}}`` in ``configs/cameras.yaml``;
2. the rule's ``min_score`` in ``configs/issues.yaml``;
3. the model's operating point for the class (``operating_points: {<class>: S}`` of its entry in
   ``configs/models.yaml``);
4. :data:`DEFAULT_MIN_SCORE`.

>>> rule = IssueRule("smoke", classes=("smoke",))
>>> min_score(rule, "smoke"), min_score(rule, "smoke", operating_points={"smoke": 0.5})
(0.35, 0.5)
>>> min_score(rule, "smoke", {"smoke": 0.7}, {"smoke": 0.5})
0.7
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from gridsight.issues.zones import ZONE_KINDS

SEVERITIES = ("low", "medium", "high", "critical")
DEFAULT_MIN_SCORE = 0.35  # when neither a camera, the rule nor the model says
RULE_NUMBERS = ("min_score", "persistence_s", "dwell_s", "min_area_share", "clear_s", "reopen_s")


@dataclass(frozen=True)
class IssueRule:
    """An issue type: its catalogue entry and its rule (``classes`` empty: no detector judges it)."""

    issue_type: str
    classes: tuple[str, ...] = ()
    zones: tuple[str, ...] = ("any",)
    min_score: float | None = None  # None: the model's operating point, else DEFAULT_MIN_SCORE
    persistence_s: float = 0.0
    dwell_s: float = 0.0
    min_area_share: float = 0.0
    clear_s: float = 60.0
    reopen_s: float = 600.0
    category: str = ""
    name_en: str = ""
    name_zh: str = ""
    severity: str = "medium"

    @property
    def key(self) -> str:
        return self.issue_type

    def name(self, language: str) -> str:
        if language == "zh":
            return self.name_zh or self.name_en or self.issue_type
        if language == "en+zh" and self.name_zh:
            return f"{self.name_en or self.issue_type} {self.name_zh}"
        return self.name_en or self.issue_type


def min_score(rule: IssueRule, class_name: str, camera: Mapping[str, float] | None = None,
              operating_points: Mapping[str, float] | None = None) -> float:
    """The score a ``class_name`` detection must reach for ``rule``; ``camera``: the camera's
    min_score per issue type (its ``sensitivity``), ``operating_points``: the model's per class."""
    if camera and rule.issue_type in camera:
        return float(camera[rule.issue_type])
    if rule.min_score is not None:
        return rule.min_score
    if operating_points and class_name in operating_points:
        return float(operating_points[class_name])
    return DEFAULT_MIN_SCORE


def parse_catalogue(types, where: str = "issue types") -> dict[str, IssueRule]:
    """Issue types from the ``issue_types`` mapping; ValueError naming the type and field."""
    if not isinstance(types, dict) or not types:
        raise ValueError(f"{where}: no issue_types")
    out = {}
    for name, spec in types.items():
        spec = spec or {}
        if not isinstance(spec, dict):
            raise ValueError(f"{where}: issue type {name!r} must be a mapping")
        severity = spec.get("severity", "medium")
        if severity not in SEVERITIES:
            raise ValueError(f"{where}: issue type {name!r}: severity {severity!r} is not one of {SEVERITIES}")
        rule = spec.get("rule")
        fields = _rule_fields(name, rule, where) if rule is not None else {}
        out[str(name)] = IssueRule(str(name), **fields, category=str(spec.get("category", "")),
                                   name_en=str(spec.get("name_en") or name), name_zh=str(spec.get("name_zh", "")),
                                   severity=severity)
    return out


def _rule_fields(name, rule, where: str) -> dict:
    r = dict(rule) if isinstance(rule, dict) else {}
    if not r.get("classes") or not isinstance(r["classes"], list):
        raise ValueError(f"{where}: issue type {name!r}: rule.classes is required")
    zones = tuple(r.pop("zones", None) or ("any",))
    bad = [z for z in zones if z not in ZONE_KINDS]
    if bad:
        raise ValueError(f"{where}: issue type {name!r}: unknown zone kinds {bad}")
    unknown = set(r) - set(RULE_NUMBERS) - {"classes"}
    if unknown:
        raise ValueError(f"{where}: issue type {name!r}: unknown rule fields {sorted(unknown)}")
    try:
        nums = {k: float(r[k]) for k in RULE_NUMBERS if k in r}
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: issue type {name!r}: rule numbers: {exc}") from exc
    if "min_score" in nums and not 0 <= nums["min_score"] <= 1:
        raise ValueError(f"{where}: issue type {name!r}: min_score must lie in 0..1")
    return {"classes": tuple(str(c) for c in r["classes"]), "zones": zones, **nums}


def load_catalogue(path: str | Path) -> dict[str, IssueRule]:
    """The issue types of a YAML file (``configs/issues.yaml``); ValueError on bad input."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read issue types from {path}: {' '.join(str(exc).split())}") from exc
    return parse_catalogue(doc.get("issue_types") if isinstance(doc, dict) else None, str(path))


def parse_min_scores(sensitivity, where: str = "camera") -> dict[str, float]:
    """A camera's ``sensitivity: {<issue type>: {min_score: S}}`` as ``{issue type: S}``."""
    if sensitivity in (None, {}):
        return {}
    if not isinstance(sensitivity, dict):
        raise ValueError(f"{where}: sensitivity must map issue types to {{min_score: S}}")
    out = {}
    for itype, spec in sensitivity.items():
        value = spec.get("min_score") if isinstance(spec, dict) else None
        try:
            score = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: sensitivity.{itype}: give {{min_score: S}} with S in 0..1") from None
        if not 0 <= score <= 1:
            raise ValueError(f"{where}: sensitivity.{itype}.min_score must lie in 0..1")
        out[str(itype)] = score
    return out
