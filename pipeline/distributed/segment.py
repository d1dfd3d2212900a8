"""One segment of archived footage through the pipeline's stages, into incident records.

The stages are the pipeline's own (:class:`~pipeline.track.CameraTracker`,
:class:`~pipeline.rules.RuleBook`, :class:`~pipeline.incidents.IncidentBook`); this module only
feeds them a frame range and keeps what the segment owns:

* frames are sampled at the camera's ``detect_fps`` by footage time, the first frame of every
  ``1/detect_fps`` slot, decided from the file's timestamps alone (as
  :class:`~pipeline.sources.FileSource` does), so a segment samples exactly the frames a
  single pass over the file would;
* warm-up frames (before the segment's ``start``) rebuild tracks, dwell and persistence;
  an incident from warm-up is kept only if it is still going on at ``start`` (the previous
  segment saw its beginning; :mod:`pipeline.distributed.stitch` joins the two);
* the result is one *record* per incident key, with the best evidence as JPEG (base64).

A :class:`SegmentRunner` lives as long as its worker process: one detector, loaded once.
"""

from __future__ import annotations

import base64
import importlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pipeline.distributed.footage import FootageError, FootageInfo, read_frames
from pipeline.distributed.plan import Segment


class Cancelled(Exception):
    """The job was cancelled (or failed elsewhere) while this segment ran."""


def load_job_detector(spec: str | None, device: str = "auto"):
    """``module:factory`` (called with ``device=``) or a model name/path for
    :func:`models.detector.load_detector` (None: the configured default)."""
    if spec and ":" in spec and not Path(spec).exists():
        mod, _, attr = spec.partition(":")
        return getattr(importlib.import_module(mod), attr)(device=device)
    from models.detector import load_detector

    return load_detector(spec or None, device=device)


def sampled(times: list[float], i: int, fps: float) -> bool:
    """Whether frame ``i`` is the first of its ``1/fps`` slot of footage time."""
    if i == 0:
        return True
    return math.floor(times[i] * fps + 1e-6) != math.floor(times[i - 1] * fps + 1e-6)


@dataclass
class CameraSpec:
    """What a job knows about its camera (a snapshot taken when the job was planned)."""

    id: str
    detect_fps: float = 2.0
    zones: list[dict] = field(default_factory=list)  # {id, kind, polygon, normalized}
    min_scores: dict[str, float] = field(default_factory=dict)  # its sensitivity: issue type -> min_score

    @classmethod
    def from_camera(cls, cam) -> "CameraSpec":
        return cls(cam.id, float(cam.detect_fps), [
            {"id": z.id, "kind": z.kind, "polygon": [list(p) for p in z.polygon], "normalized": z.normalized}
            for z in cam.zones], dict(cam.min_scores))


def render_evidence(ev, language: str) -> dict[str, str] | None:
    """Annotated and raw JPEGs (base64) of an event's best frame, by the pipeline's renderer
    (zone outline, boxes, bilingual label, bystanders blurred)."""
    from pipeline.evidence import render

    out = render(ev, language=language)
    if out is None:
        return None
    return {"annotated": base64.b64encode(out[0]).decode(), "raw": base64.b64encode(out[1]).decode()}


class SegmentSource:
    """A segment's sampled frames as a pipeline file source (never drops, in order)."""

    live = False

    def __init__(self, camera_id: str, info: FootageInfo, seg: Segment, t0: float, detect_fps: float,
                 on_progress: Callable[[int], None] | None, should_stop: Callable[[], bool] | None,
                 progress_every: int) -> None:
        self.camera_id, self.info, self.seg, self.t0, self.fps = camera_id, info, seg, t0, detect_fps
        self.on_progress, self.should_stop, self.every = on_progress, should_stop, progress_every
        self.stopped = False
        self.sampled = 0
        self._closed = False

    def __iter__(self):
        from pipeline.sources import Frame

        owned = 0
        for i, pts, img in read_frames(self.info, self.seg.warmup_from, self.seg.end):
            if self._closed:
                return
            if not sampled(self.info.times, i, self.fps):
                continue
            if i >= self.seg.start:
                owned += 1
                if owned % self.every == 0:
                    if self.on_progress:
                        self.on_progress(i - self.seg.start + 1)
                    if self.should_stop and self.should_stop():
                        self.stopped = True
                        return
            self.sampled += 1
            yield Frame(self.camera_id, img, self.t0 + pts, i, pts)

    def close(self) -> None:
        self._closed = True


class SegmentRunner:
    """Runs segments through :class:`~pipeline.processing.CameraProcessor` (gating, shared
    detector through the batching scheduler, tracker, rules, incidents) and collects records."""

    def __init__(self, detector, rules: dict, *, language: str = "en+zh", progress_every: int = 25,
                 operating_points: dict[str, float] | None = None) -> None:
        from models.registry import operating_points as model_operating_points
        from pipeline.processing import privacy_threshold
        from pipeline.scheduler import BatchScheduler

        self.detector = detector
        self.scheduler = BatchScheduler(detector, **privacy_threshold(detector))
        self.rules = rules
        self.operating_points = model_operating_points() if operating_points is None else operating_points
        self.language = language
        self.progress_every = progress_every

    def close(self) -> None:
        self.scheduler.close()

    def run(self, camera: CameraSpec, seg: Segment, info: FootageInfo, start_epoch: float, *,
            on_progress: Callable[[int], None] | None = None,
            should_stop: Callable[[], bool] | None = None, gate: bool = True) -> dict:
        from gridsight.issues import Camera, parse_zones
        from gridsight.settings import get_settings
        from pipeline.processing import CameraProcessor

        cam = Camera(camera.id, info.path, detect_fps=camera.detect_fps,
                     zones=parse_zones(camera.zones, f"camera {camera.id}"), min_scores=dict(camera.min_scores))
        t0 = start_epoch + seg.offset_s
        owned_from = t0 + info.times[seg.start]
        source = SegmentSource(camera.id, info, seg, t0, camera.detect_fps, on_progress, should_stop,
                               self.progress_every)
        events = []
        started = time.perf_counter()
        proc = CameraProcessor(cam, source, self.scheduler, self.rules, self.detector.names,
                               lambda _c, evs: events.extend(evs), gate=gate,
                               min_score=getattr(self.detector, "conf", 0.0),
                               privacy_window_s=get_settings().privacy_window_s,
                               operating_points=self.operating_points).start()
        proc.join()
        if proc.stats.error:
            if "FootageError" in proc.stats.error or "no such file" in proc.stats.error:
                raise FootageError(proc.stats.error)
            raise RuntimeError(f"segment {seg.index}: {proc.stats.error}")
        if source.stopped:
            raise Cancelled(f"segment {seg.index} stopped: job no longer running")
        if proc.stats.detect_failed:  # a live camera moves on; an archive result must not miss frames silently
            raise RuntimeError(f"segment {seg.index}: the detector failed on {proc.stats.detect_failed} of "
                               f"{proc.stats.detected + proc.stats.detect_failed} frames (see the worker log)")
        records: dict[str, dict] = {}
        best: dict[str, object] = {}  # key -> the event with the best evidence (rendered once, at the end)
        for ev in events:
            self._record(records, best, ev)
        incidents = proc.incidents
        open_keys = set(incidents.open_incidents())
        last_true = {st.key: st.last_true for st in incidents.states.values() if st.key in open_keys}
        out = []
        for key, rec in records.items():
            rec["open_at_end"] = key in open_keys
            if rec["open_at_end"]:
                rec["last_seen"] = max(rec["last_seen"], last_true.get(key, rec["last_seen"]))
            if rec["last_seen"] >= owned_from or rec["open_at_end"]:
                if key in best:
                    rec["evidence"] = render_evidence(best[key], self.language)
                out.append(rec)
        if on_progress:
            on_progress(seg.frames)
        return {"segment": seg.index, "frames": seg.frames, "sampled": source.sampled,
                "detected": proc.stats.detected, "warmup_frames": seg.start - seg.warmup_from,
                "seconds": round(time.perf_counter() - started, 3),
                "incidents": sorted(out, key=lambda r: (r["first_seen"], r["key"]))}

    @staticmethod
    def _record(records: dict, best: dict, ev) -> None:
        rec = records.get(ev.key)
        rule = ev.rule
        if rec is None:
            rec = records[ev.key] = {
                "key": ev.key, "issue_type": rule.issue_type, "zone_id": ev.zone_id,
                "first_seen": ev.first_seen, "last_seen": ev.last_seen, "open_at_end": True,
                "score": -1.0, "detections": [], "evidence": None, "reopen_s": rule.reopen_s,
                "meta": {"category_code": rule.category, "name_en": rule.name_en, "name_zh": rule.name_zh,
                         "severity": rule.severity}}
        rec["first_seen"] = min(rec["first_seen"], ev.first_seen)
        rec["last_seen"] = max(rec["last_seen"], ev.last_seen)
        if ev.event != "close" and ev.evidence is not None and ev.score > rec["score"]:
            rec["score"] = float(ev.score)
            rec["detections"] = ev.detections
            best[ev.key] = ev
