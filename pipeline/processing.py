"""One camera's path: frames -> gate -> (shared detector) -> tracker -> rules -> incidents -> sink.

Two threads per camera, so decoding the next frames overlaps detection and post-processing:

* the *reader* takes sampled frames from the source (files: every one, in order, waiting when
  the pipeline is behind; live: the newest, at most ``detect_fps`` per second), asks the
  :class:`~pipeline.sampling.DetectionPolicy` whether the frame needs the detector, submits it to
  the shared :class:`~pipeline.scheduler.BatchScheduler` if so, and queues it in order;
* the *judge* takes frames in order, waits for their detections (or carries the last ones
  forward for unchanged frames), tracks, evaluates the rules and hands incident events to the sink.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from gridsight.issues import Camera, Detections
from gridsight.settings import get_settings
from pipeline.incidents import IncidentBook, IncidentEvent
from pipeline.motion import MotionDetector
from pipeline.rules import IssueRule, RuleBook
from pipeline.sampling import DetectionPolicy
from pipeline.scheduler import BatchScheduler
from pipeline.track import CameraTracker

log = logging.getLogger("gridsight.pipeline")
Sink = Callable[[Camera, list[IncidentEvent]], None]
PRIVATE_CLASSES = ("person",)
STAGES = ("decode", "gate", "track", "rules", "incidents", "sink")  # CameraStats.cpu's keys, in order


def privacy_threshold(detector) -> dict:
    """The scheduler's ``conf`` when the privacy threshold is below the detector's own: detections
    between the two only count for the blur (the processor drops them before the rules)."""
    own = getattr(detector, "conf", None)
    privacy = get_settings().privacy_conf
    return {"conf": privacy} if own is not None and privacy < own else {}


class PeopleSeen:
    """The people detected in this camera's recent frames, by footage time: the privacy blur of a
    frame takes everyone seen within ``window_s`` of it (a person the detector misses on one frame
    is still blurred when it saw them in a frame around it)."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._seen: deque[tuple[float, list[dict]]] = deque()

    def add(self, t: float, people: list[dict]) -> None:
        self._seen.append((t, people))
        while self._seen and self._seen[0][0] < t - 2 * self.window_s:
            self._seen.popleft()

    def around(self, t: float) -> list[dict]:
        return [p for seen_t, people in self._seen if abs(seen_t - t) <= self.window_s for p in people]


@dataclass
class CameraStats:
    frames: int = 0  # sampled frames judged
    detected: int = 0  # of which went to the detector
    detect_failed: int = 0  # of which the detector failed on (judged as unchanged)
    events: int = 0
    footage_time: float | None = None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    done: bool = False
    error: str = ""
    recent: deque = field(default_factory=lambda: deque(maxlen=256), repr=False)  # monotonic judge times
    # CPU seconds this camera's own threads spent per stage (thread CPU time: what the stage costs, not
    # how long it waited); bench/pipeline.py prints them per frame next to the detector's share
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0), repr=False)

    def judged(self) -> None:
        self.frames += 1
        self.recent.append(time.monotonic())

    def recent_fps(self, window_s: float = 10.0) -> float:
        """Frames judged per second over the last ``window_s`` (what a live camera gets now)."""
        now = time.monotonic()
        n = sum(1 for t in self.recent if now - t <= window_s)
        return n / min(window_s, max(1e-6, now - self.started))

    @property
    def fps(self) -> float:
        end = self.finished if self.finished is not None else time.monotonic()
        return self.frames / max(1e-6, end - self.started)


class CameraProcessor:
    def __init__(self, camera: Camera, source, scheduler: BatchScheduler, rules: dict[str, IssueRule],
                 model_names: dict[int, str], sink: Sink, *, gate: bool = True, ledger=None,
                 full_check_s: float = 10.0, stationary_recheck_s: float = 5.0, motion_share: float = 0.01,
                 queue_size: int = 16, min_score: float = 0.0, privacy_window_s: float = 1.0,
                 operating_points: dict[str, float] | None = None) -> None:
        self.camera, self.source, self.scheduler, self.sink = camera, source, scheduler, sink
        self.tracker = CameraTracker(camera.zones)
        self.book = RuleBook(rules, camera.zones, set(model_names.values()), min_scores=camera.min_scores,
                             operating_points=operating_points)
        if not self.book.active:
            log.warning("no issue rule can fire on this camera with this model",
                        extra={"camera": camera.id, "zones": [z.kind for z in camera.zones]})
        motion = MotionDetector(self.book.watched_places()) if gate else None
        self.policy = DetectionPolicy(motion, motion_share, stationary_recheck_s, full_check_s)
        self.incidents = IncidentBook(camera.id, ledger=ledger)
        self.names = model_names
        self.min_score = min_score  # below it a detection only counts for the privacy blur
        self.people = PeopleSeen(privacy_window_s)
        # only what a rule can use is tracked (people walking by cost the tracker, not the rules)
        self.track_classes = tuple(sorted({c for r, _ in self.book.entries for c in r.classes}))
        self.watchers: list[Callable] = []  # fn(processor, frame, observations, others), e.g. pipeline.verify
        self.stats = CameraStats()
        self._ordered: queue.Queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._has_stationary = False
        self._last_dets: Detections | None = None
        self._threads = [threading.Thread(target=self._read, name=f"read-{camera.id}", daemon=True),
                         threading.Thread(target=self._judge, name=f"judge-{camera.id}", daemon=True)]

    def start(self) -> "CameraProcessor":
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.source.close()

    def join(self, timeout: float | None = None) -> bool:
        for t in self._threads:
            t.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    @property
    def done(self) -> bool:
        return self.stats.done

    # --- reader ------------------------------------------------------------------
    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._ordered.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        min_gap = 1.0 / self.camera.detect_fps
        last_t = None
        cpu = self.stats.cpu
        clock = time.thread_time
        try:
            t0 = clock()
            for frame in self.source:
                t1 = clock()
                cpu["decode"] += t1 - t0
                if self._stop.is_set():
                    break
                if self.source.live:
                    if last_t is not None and frame.time - last_t < min_gap * 0.9:
                        t0 = clock()
                        continue
                    last_t = frame.time
                reason = self.policy.decide(frame.image, frame.time, self._has_stationary)
                fut = self.scheduler.submit(frame.image) if reason else None
                t0 = clock()
                cpu["gate"] += t0 - t1
                if not self._put((frame, fut)):
                    break
        except Exception as exc:  # a broken file must not take the other cameras down
            self.stats.error = f"{type(exc).__name__}: {exc}"
            log.error("camera reader failed", exc_info=True, extra={"camera": self.camera.id})
        finally:
            if not self._put(None):
                try:
                    self._ordered.put_nowait(None)
                except queue.Full:
                    pass

    # --- judge -------------------------------------------------------------------
    def _judge(self) -> None:
        try:
            while True:
                item = self._ordered.get()
                if item is None:
                    break
                frame, fut = item
                dets = None
                if fut is not None:
                    try:
                        dets = fut.result()
                    except Exception:  # the scheduler logged it; judge the frame as unchanged
                        dets = None
                        self.stats.detect_failed += 1
                    else:
                        self._last_dets = dets
                        self.stats.detected += 1
                self.step(frame, dets)
        except Exception as exc:
            self.stats.error = f"{type(exc).__name__}: {exc}"
            log.error("camera processing failed", exc_info=True, extra={"camera": self.camera.id})
            self._stop.set()
        finally:
            self.stats.finished = time.monotonic()
            self.stats.done = True

    def step(self, frame, dets: Detections | None) -> list[IncidentEvent]:
        """Judge one frame (``dets=None``: unchanged since the last detection)."""
        cpu, clock = self.stats.cpu, time.thread_time
        t0 = clock()
        if dets is not None:
            self.people.add(frame.time, dets.of_classes(PRIVATE_CLASSES).to_list())
            dets = dets.of_classes(self.track_classes)
            if self.min_score:
                dets = dets[dets.scores >= self.min_score]
        tracks = self.tracker.update(dets, frame.time, frame.image.shape)
        self._has_stationary = any(t.stationary for t in tracks)
        t1 = clock()
        observations = self.book.evaluate(tracks, frame.image.shape)
        t2 = clock()
        others = self.people.around(frame.time)
        if dets is None and self._last_dets is not None:  # an unchanged frame: the last detection's people too
            others += self._last_dets.of_classes(PRIVATE_CLASSES).to_list()
        events = self.incidents.observe(observations, frame.time, frame.image, others)
        for ev in events:  # the best frame may be older: add the people seen since around it
            if ev.evidence is not None and ev.evidence.time != frame.time:
                have = {id(o) for o in ev.evidence.others}
                ev.evidence.others = ev.evidence.others + [p for p in self.people.around(ev.evidence.time)
                                                           if id(p) not in have]
        for watch in self.watchers:
            watch(self, frame, observations, others)
        self.stats.judged()
        self.stats.footage_time = frame.time
        t3 = clock()
        if events:
            self.stats.events += len(events)
            for ev in events:
                log.info("incident %s", ev.event, extra={"camera": self.camera.id, "key": ev.key, "seq": ev.seq,
                                                          "issue_type": ev.rule.issue_type})
            self.sink(self.camera, events)
        cpu["track"] += t1 - t0
        cpu["rules"] += t2 - t1
        cpu["incidents"] += t3 - t2
        cpu["sink"] += clock() - t3
        return events
