"""Scripted detection sequences: the stage boundary the rules, tracking and incidents take."""

from __future__ import annotations

import numpy as np

from gridsight.issues import Detections, Zone
from pipeline.incidents import IncidentBook
from pipeline.rules import IssueRule, RuleBook
from pipeline.track import CameraTracker

NAMES = {0: "person", 2: "car", 7: "truck", 25: "umbrella", 80: "fire", 85: "water"}
IDS = {v: k for k, v in NAMES.items()}
SHAPE = (480, 640, 3)
T0 = 1_764_309_600.0  # 2025-11-28T06:00:00Z


def dets(*objs: tuple[str, tuple[float, float, float, float], float]) -> Detections:
    if not objs:
        return Detections.empty(NAMES)
    return Detections(np.array([o[1] for o in objs], np.float32), np.array([o[2] for o in objs], np.float32),
                      np.array([IDS[o[0]] for o in objs], np.int32), NAMES)


def parking_rule(**kw) -> IssueRule:
    base = dict(classes=("car", "truck"), zones=("no_parking",), min_score=0.35, persistence_s=60, dwell_s=60,
                clear_s=60, reopen_s=600, name_en="Illegal parking", name_zh="机动车乱停放", category="0505")
    base.update(kw)
    return IssueRule("illegal_parking", **base)


KERB = Zone("kerb", "no_parking", [(300, 200), (640, 200), (640, 480), (300, 480)])


class Scene:
    """Camera stages wired as the pipeline wires them, fed one scripted frame at a time."""

    def __init__(self, rules: list[IssueRule], zones: list[Zone] | None = None, camera: str = "cam-t", ledger=None):
        zones = [KERB] if zones is None else zones
        self.tracker = CameraTracker(zones)
        self.book = RuleBook(rules, zones, set(NAMES.values()))
        self.incidents = IncidentBook(camera, ledger=ledger)
        self.events = []

    def step(self, t: float, d: Detections | None):
        tracks = self.tracker.update(d, T0 + t, SHAPE)
        obs = self.book.evaluate(tracks, SHAPE)
        others = d.of_classes(("person",)).to_list() if d is not None else []
        evs = self.incidents.observe(obs, T0 + t, np.zeros(SHAPE, np.uint8), others)
        self.events.extend(evs)
        return evs

    def run(self, seconds: float, fps: float, objects, start: float = 0.0):
        """``objects(t) -> tuple of (class, box, score)`` for each frame time t in [start, start+seconds)."""
        n = int(round(seconds * fps))
        for i in range(n):
            t = start + i / fps
            self.step(t, dets(*objects(t)))
        return start + n / fps

    def summary(self):
        return [(e.event, e.key, e.seq) for e in self.events]
