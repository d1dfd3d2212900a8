"""Tracking: stable object ids per camera, stationary flag, time in each zone.

One :class:`CameraTracker` per camera wraps Ultralytics' ByteTrack, fed with our
:class:`~gridsight.issues.Detections` (so ids stay stable however frames were batched across
cameras). On top of it:

* **stationary**: a track whose box keeps overlapping the box it had when it stopped
  (IoU >= ``still_iou``) has been still since then; ``dwell_s`` is how long;
* **id switches**: a new id that appears where a still track was lost a moment ago inherits its
  history (first seen, still since, zone times), so a parked car occluded by a bus keeps its dwell;
* **unchanged frames**: ``update(None, t)`` says the scene did not change (motion gating skipped
  inference): every track is seen again at ``t`` where it was;
* **gaps**: when the clock jumps ahead more than ``max_gap_s``, dwell restarts (nobody watched).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np

from gridsight.issues import Detections, Zone

BYTETRACK_ARGS = dict(tracker_type="bytetrack", track_high_thresh=0.25, track_low_thresh=0.1,
                      new_track_thresh=0.25, track_buffer=30, match_thresh=0.8, fuse_score=True)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


@dataclass
class Track:
    id: int
    class_name: str
    score: float
    xyxy: np.ndarray  # (4,) source pixels
    first_seen: float
    last_seen: float
    still_since: float
    anchor: np.ndarray  # box where it stopped
    stationary_after_s: float = 3.0
    zone_time: dict[str, float] = field(default_factory=dict)

    @property
    def dwell_s(self) -> float:
        """How long it has been still (footage seconds)."""
        return max(0.0, self.last_seen - self.still_since)

    @property
    def stationary(self) -> bool:
        return self.dwell_s >= self.stationary_after_s

    def as_dict(self) -> dict:
        return {"class_name": self.class_name, "score": round(float(self.score), 4),
                "box": [round(float(v), 1) for v in self.xyxy], "track_id": int(self.id)}


def track_detections(tracks: list[Track]) -> Detections:
    """The visible tracks as one :class:`Detections` with their track ids (what the rules judge)."""
    return Detections.from_named(np.array([t.xyxy for t in tracks], np.float32).reshape(-1, 4),
                                 [t.score for t in tracks], [t.class_name for t in tracks], [t.id for t in tracks])


class _ByteInput:
    """The results-like view ByteTrack reads: ``conf``, ``cls``, ``xywh``, ``xyxy``, boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray, cls: np.ndarray) -> None:
        self.xyxy, self.conf, self.cls = xyxy, conf, cls

    @property
    def xywh(self) -> np.ndarray:
        x = self.xyxy
        return np.stack([(x[:, 0] + x[:, 2]) / 2, (x[:, 1] + x[:, 3]) / 2, x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]], 1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, idx) -> "_ByteInput":
        return _ByteInput(self.xyxy[idx], self.conf[idx], self.cls[idx])


class CameraTracker:
    def __init__(self, zones: list[Zone] | None = None, *, still_iou: float = 0.7, stationary_after_s: float = 3.0,
                 inherit_iou: float = 0.5, memory_s: float = 60.0, max_gap_s: float = 60.0) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        self.byte = BYTETracker(SimpleNamespace(**BYTETRACK_ARGS))
        self.zones = list(zones or [])
        self.still_iou = still_iou
        self.stationary_after_s = stationary_after_s
        self.inherit_iou = inherit_iou
        self.memory_s = memory_s
        self.max_gap_s = max_gap_s
        self.tracks: dict[int, Track] = {}  # visible now
        self.lost: dict[int, Track] = {}  # recently gone, may come back under a new id
        self.last_t: float | None = None
        self.shape: tuple[int, ...] | None = None

    @property
    def visible(self) -> list[Track]:
        return list(self.tracks.values())

    def update(self, dets: Detections | None, t: float, shape: tuple[int, ...] | None = None) -> list[Track]:
        """Tracks visible at footage time ``t``; ``dets=None``: the scene is unchanged since the last call."""
        if shape is not None:
            self.shape = shape
        if self.last_t is not None and t < self.last_t:
            t = self.last_t  # the clock went back: time stands still, never runs backwards
        gap = 0.0 if self.last_t is None else t - self.last_t
        if gap > self.max_gap_s:
            for tr in self.tracks.values():  # nobody watched: dwell starts again
                tr.still_since = t
        self.last_t = t
        if dets is None:
            seen = [(tr, self._seen(tr, tr.xyxy, tr.score, tr.class_name, t, gap)) for tr in self.tracks.values()]
            self._zone_time(seen)
            return self.visible
        names = dets.names
        rows = self.byte.update(_ByteInput(dets.xyxy.astype(np.float32), dets.scores.astype(np.float32),
                                           dets.class_ids.astype(np.float32)))
        now: dict[int, Track] = {}
        seen = []
        for row in rows.reshape(-1, 8) if len(rows) else []:
            box, tid, idx = row[:4].astype(np.float32), int(row[4]), int(row[7])
            score, cls = float(dets.scores[idx]), names.get(int(dets.class_ids[idx]), str(int(dets.class_ids[idx])))
            tr = self.tracks.get(tid) or self.lost.pop(tid, None)
            if tr is None:
                tr = self._new_track(tid, cls, score, box, t)
            else:
                seen.append((tr, self._seen(tr, box, score, cls, t, gap)))
            now[tid] = tr
        self._zone_time(seen)
        for tid, tr in self.tracks.items():
            if tid not in now:
                self.lost[tid] = tr
        self.lost = {k: v for k, v in self.lost.items() if t - v.last_seen <= self.memory_s}
        self.tracks = now
        return self.visible

    def _new_track(self, tid: int, cls: str, score: float, box: np.ndarray, t: float) -> Track:
        tr = Track(tid, cls, score, box, t, t, t, box.copy(), self.stationary_after_s)
        best, best_iou = None, self.inherit_iou
        for old_id, old in self.lost.items():
            iou = box_iou(old.anchor, box)
            if iou >= best_iou and old.stationary:
                best, best_iou = old_id, iou
        if best is not None:  # an id switch on a still object: same object, same history
            old = self.lost.pop(best)
            tr.first_seen, tr.still_since, tr.anchor = old.first_seen, old.still_since, old.anchor
            tr.zone_time = dict(old.zone_time)
            if box_iou(tr.anchor, box) < self.still_iou:
                tr.anchor, tr.still_since = box.copy(), t
        return tr

    def _zone_time(self, seen: list[tuple[Track, float]]) -> None:
        """Add each track's time since it was last seen (``dt``) to the zones its box now stands in:
        one containment test per zone for all the tracks."""
        seen = [(tr, dt) for tr, dt in seen if dt > 0]
        if not self.zones or self.shape is None or not seen:
            return
        boxes = np.array([tr.xyxy for tr, _ in seen], np.float32)
        for z in self.zones:
            for (tr, dt), inside in zip(seen, z.contains_boxes(boxes, self.shape)):
                if inside:
                    tr.zone_time[z.id] = tr.zone_time.get(z.id, 0.0) + dt

    def _seen(self, tr: Track, box: np.ndarray, score: float, cls: str, t: float, gap: float) -> float:
        """Update ``tr`` to its box at ``t``; returns the time since it was last seen (for its zone time)."""
        dt = min(max(0.0, t - tr.last_seen), self.max_gap_s)
        if box_iou(tr.anchor, box) < self.still_iou:
            tr.anchor, tr.still_since = box.copy(), t
        elif t - tr.last_seen > self.max_gap_s:
            tr.still_since = t
        tr.xyxy, tr.score, tr.class_name, tr.last_seen = box, score, cls, t
        return dt
