"""Which sampled frames go to the detector.

A camera's frames are first sampled at its ``detect_fps`` (the source does that: issues are
slow, so 1-2 frames/s is plenty; fire needs a few seconds of persistence, so 2/s catches it).
Then :class:`DetectionPolicy` sends a sampled frame to the detector when

* ``first``: nothing was detected yet,
* ``motion``: the watched part of the scene changed (see :mod:`pipeline.motion`), and the
  ``settle_frames`` frames after that (a new object needs a second look for the tracker to
  confirm it),
* ``recheck``: still objects are being timed and ``stationary_recheck_s`` passed,
* ``full``: ``full_check_s`` passed, whatever the motion check says;

otherwise the frame is *unchanged*: the tracker carries the last detections forward.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.motion import MotionDetector


@dataclass
class DetectionPolicy:
    motion: MotionDetector | None = None  # None: every sampled frame is detected
    motion_share: float = 0.01  # share of watched pixels that must change
    stationary_recheck_s: float = 5.0
    full_check_s: float = 10.0
    settle_frames: int = 1
    last_detect: float | None = None
    _settle: int = 0
    counts: dict | None = None

    def __post_init__(self) -> None:
        self.counts = {"first": 0, "motion": 0, "recheck": 0, "full": 0, "unchanged": 0}

    def decide(self, image, t: float, has_stationary: bool = False) -> str | None:
        """Why to detect this frame (``first``/``motion``/``recheck``/``full``), or None to skip it."""
        if self.motion is None:
            reason = "motion"
        else:
            share = self.motion.change(image)
            if self.last_detect is None:
                reason, self._settle = "first", self.settle_frames
            elif share >= self.motion_share:
                reason, self._settle = "motion", self.settle_frames
            elif self._settle > 0:
                reason, self._settle = "motion", self._settle - 1
            elif t - self.last_detect >= self.full_check_s or t < self.last_detect:
                reason = "full"
            elif has_stationary and t - self.last_detect >= self.stationary_recheck_s:
                reason = "recheck"
            else:
                self.counts["unchanged"] += 1
                return None
            self.motion.accept()
        self.last_detect = t
        self.counts[reason] += 1
        return reason
