"""The single-frame judgement: which issue types hold where, on one frame's detections.

Every door calls this one function: the camera and archive pipeline (which adds time on top:
persistence, dwell, clear, reopen), ``POST /detect`` uploads, photo verification and camera
verification. A rule holds at a place when detections of its classes reach their score
threshold (:func:`~gridsight.issues.catalogue.min_score`) and

* stand in the place (bottom-centre of the box), or
* for area rules (``min_area_share``), the union of those boxes covers that share of the place.

Rules for zone kind ``any`` are judged on the whole frame; other rules at every zone of a listed
kind (a zone of kind ``any`` takes every rule). For dwell rules only stationary objects count,
when the caller knows which are (``stationary``; a single picture does not).

>>> import numpy as np
>>> rule = IssueRule("illegal_parking", classes=("car",), zones=("no_parking",), dwell_s=60)
>>> kerb = Zone("kerb", "no_parking", [(0, 0), (100, 0), (100, 100), (0, 100)])
>>> dets = Detections.from_named([[10, 10, 50, 90]], [0.9], ["car"])
>>> [(f.rule.issue_type, f.zone_id, f.present) for f in judge(dets, (100, 200), [rule], [kerb])]
[('illegal_parking', 'kerb', True)]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from gridsight.issues.catalogue import IssueRule, min_score
from gridsight.issues.detections import Detections
from gridsight.issues.zones import FRAME_ID, Zone, whole_frame


@dataclass
class Finding:
    """What one frame says about one rule at one place."""

    rule: IssueRule
    place: Zone
    present: bool  # the rule holds
    subjects: np.ndarray  # (K,) indices of the detections that make it hold
    score: float = 0.0  # best subject score
    coverage: float = 0.0  # share of the place covered (area rules)

    @property
    def zone_id(self) -> str | None:
        """The zone, or None for the whole frame."""
        return None if self.place.id == FRAME_ID else self.place.id


def places(rule: IssueRule, zones: list[Zone]) -> list[Zone]:
    """Where ``rule`` is judged on a camera with ``zones``: the whole frame for ``any``, else every
    zone of a listed kind (a zone of kind ``any`` takes every rule)."""
    if "any" in rule.zones:
        return [whole_frame()]
    return [z for z in zones if z.kind in rule.zones or z.kind == "any"]


class RuleBook:
    """The rules that can fire on one camera, each with its places and per-class thresholds.

    ``model_classes``: drop rules the detector cannot fire (a model without ``fire`` never
    reports fire); ``min_scores``: the camera's sensitivity (issue type -> min_score);
    ``operating_points``: the model's score per class."""

    def __init__(self, rules: Mapping[str, IssueRule] | list[IssueRule], zones: list[Zone],
                 model_classes: set[str] | None = None, *, min_scores: Mapping[str, float] | None = None,
                 operating_points: Mapping[str, float] | None = None) -> None:
        rules = [r for r in (rules.values() if isinstance(rules, Mapping) else rules) if r.classes]
        if model_classes is not None:
            rules = [r for r in rules if set(r.classes) & model_classes]
        self.entries = [(r, p) for r in rules for p in places(r, zones)]
        self.thresholds = {r.issue_type: {c: min_score(r, c, min_scores, operating_points) for c in r.classes}
                           for r in rules}

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

    def judge(self, dets: Detections, shape: tuple[int, ...], stationary: np.ndarray | None = None) -> list[Finding]:
        """One :class:`Finding` per (rule, place); ``shape``: the frame's (H, W, ...)."""
        names = dets.class_names
        out = []
        inside: dict[str, np.ndarray] = {}  # place id -> boxes standing in it (several rules share a place)
        for rule, place in self.entries:
            thr = self.thresholds[rule.issue_type]
            wanted = np.array([n in thr and s >= thr[n] for n, s in zip(names, dets.scores)], bool)
            if rule.dwell_s > 0 and stationary is not None:
                wanted &= np.asarray(stationary, bool)
            coverage = 0.0
            if rule.min_area_share > 0:
                hit = wanted.copy()
                if wanted.any():
                    coverage = place.coverage(dets.xyxy[wanted], shape)
                    hit[wanted] = place.overlaps(dets.xyxy[wanted], shape)
                present = coverage >= rule.min_area_share
            else:
                hit = wanted
                if wanted.any():
                    if place.id not in inside:
                        inside[place.id] = place.contains_boxes(dets.xyxy, shape)
                    hit = wanted & inside[place.id]
                present = bool(hit.any())
            idx = np.flatnonzero(hit)
            out.append(Finding(rule, place, present, idx, float(dets.scores[idx].max()) if len(idx) else 0.0,
                               coverage))
        return out


def judge(dets: Detections, shape: tuple[int, ...], rules: Mapping[str, IssueRule] | list[IssueRule],
          zones: list[Zone], *, min_scores: Mapping[str, float] | None = None,
          operating_points: Mapping[str, float] | None = None) -> list[Finding]:
    """Every (rule, place) :class:`Finding` on one picture (no time: dwell cannot be judged)."""
    return RuleBook(rules, zones, min_scores=min_scores, operating_points=operating_points).judge(dets, shape)
