"""Cheap motion check: did the watched part of the scene change since the last detection?

The frame is shrunk to ``width`` pixels wide, greyed and blurred; pixels that differ from the
reference (the frame at the last inference) by more than ``pixel_threshold`` count as changed.
Only the places a rule watches count (their zones, grown by ``margin`` so an object is seen as it
walks in); a rule that applies anywhere watches the whole frame. Costs well under a millisecond.
"""

from __future__ import annotations

import cv2
import numpy as np

from gridsight.issues import Zone


class MotionDetector:
    def __init__(self, places: list[Zone] | None = None, *, width: int = 160, pixel_threshold: int = 20,
                 margin: float = 0.08) -> None:
        self.places = places  # None or containing the whole frame: everything counts
        self.width = width
        self.pixel_threshold = pixel_threshold
        self.margin = margin
        self.reference: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._mask_shape: tuple | None = None
        self.last: np.ndarray | None = None

    def _small(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        size = (self.width, max(1, round(h * self.width / w)))
        # nearest to twice the size, then an exact 2:1 area average: ~10x cheaper than one INTER_AREA step
        twice = cv2.resize(image, (size[0] * 2, size[1] * 2), interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(cv2.resize(twice, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        return cv2.GaussianBlur(grey, (5, 5), 0)

    def _watch_mask(self, shape: tuple[int, ...]) -> np.ndarray | None:
        if self.places is None or any(p.id == "frame" for p in self.places):
            return None
        if self._mask_shape != shape[:2]:
            m = None
            for p in self.places:
                pm = p.mask(shape, self.width)
                m = pm if m is None else (m | pm)
            k = max(1, int(self.margin * self.width))
            m = cv2.dilate(m, np.ones((k, k), np.uint8))
            self._mask, self._mask_shape = m > 0, shape[:2]
        return self._mask

    def change(self, image: np.ndarray) -> float:
        """Share (0..1) of watched pixels that changed since the reference; 1.0 with no reference yet."""
        self.last = self._small(image)
        if self.reference is None or self.reference.shape != self.last.shape:
            return 1.0
        changed = cv2.absdiff(self.last, self.reference) > self.pixel_threshold
        mask = self._watch_mask(image.shape)
        if mask is None:
            return float(changed.mean())
        n = int(mask.sum())
        return float(changed[mask].sum()) / n if n else 0.0

    def accept(self) -> None:
        """The frame last measured was sent to the detector: it becomes the reference."""
        self.reference = self.last
