"""A backend for the test of the backend table: one module, as docs/detection.md says a new one is.

It "runs" any .pt by finding one object, a ``thing``, in the middle of every frame, in fp32 or
"int8"; a precision named in ``SLOW`` burns ``SLOW_MS`` of CPU per batch (the test of ``auto``
precision's measuring).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from models.backends import Backend
from models.backends.base import Detector

ROW = Backend("fake", "tests.models.fake_backend:FakeDetector", "numpy", ("cpu",), None, ".pt", int8=True)
SLOW: set[str] = set()
SLOW_MS = 20.0
loads: list[str] = []  # the precision of every FakeDetector built, in order


class FakeDetector(Detector):
    backend = "fake"

    def __init__(self, weights: Path, *, entry=None, **kwargs) -> None:
        super().__init__(names={0: "thing"}, source=str(weights), **kwargs)
        loads.append(self.precision)

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        if self.precision in SLOW:
            end = time.process_time() + SLOW_MS / 1000
            while time.process_time() < end:  # CPU time, as the measuring counts it
                pass
        b, h, w, _ = canvas.shape
        head = np.zeros((b, 5, 1), np.float32)
        head[:, :, 0] = (w / 2, h / 2, w / 4, h / 4, 0.9)  # centre x, y, width, height, score of "thing"
        return head
