"""Issue rules on one camera's tracks: the core's single-frame judgement, per tracked frame.

:class:`RuleBook` is :class:`gridsight.issues.RuleBook` (rules, places, thresholds) judging the
camera's tracks: it hands the judgement one :class:`~gridsight.issues.Detections` with the track
ids and which tracks are stationary (dwell rules count only those), and says for each (issue
type, place) whether the rule's objects are there (:class:`Observation`). Timing (persistence,
clearing, reopening) is the incidents stage's job.

>>> from gridsight.issues import Zone, places
>>> rule = IssueRule("illegal_parking", classes=("car",), zones=("no_parking",), dwell_s=60)
>>> places(rule, [Zone("kerb", "no_parking", [(0, 0), (10, 0), (10, 10)])])[0].id
'kerb'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridsight.issues import IssueRule, Zone
from gridsight.issues import RuleBook as CoreRuleBook
from pipeline.track import Track, track_detections


__all__ = ["IssueRule", "Observation", "RuleBook"]


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


class RuleBook(CoreRuleBook):
    """The rules that can fire on one camera, each with its places, judged on its tracks."""

    def evaluate(self, tracks: list[Track], shape: tuple[int, ...]) -> list[Observation]:
        stationary = np.array([t.stationary for t in tracks], bool)
        out = []
        for f in self.judge(track_detections(tracks), shape, stationary):
            subjects = [tracks[i] for i in f.subjects]
            out.append(Observation(f.rule, f.place, f.present, subjects, score=f.score,
                                   dwell_s=max((t.dwell_s for t in subjects), default=0.0), coverage=f.coverage))
        return out
