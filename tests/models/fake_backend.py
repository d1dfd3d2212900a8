"""A backend for the test of the backend table: one module, as docs/detection.md says a new one is.

It "runs" any .pt by finding one object, a ``thing``, in the middle of every frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.backends import Backend
from models.backends.base import Detector

ROW = Backend("fake", "tests.models.fake_backend:FakeDetector", "numpy", ("cpu",), None, ".pt")


class FakeDetector(Detector):
    backend = "fake"

    def __init__(self, weights: Path, *, entry=None, **kwargs) -> None:
        super().__init__(names={0: "thing"}, source=str(weights), **kwargs)

    def _infer(self, canvas: np.ndarray) -> np.ndarray:
        b, h, w, _ = canvas.shape
        head = np.zeros((b, 5, 1), np.float32)
        head[:, :, 0] = (w / 2, h / 2, w / 4, h / 4, 0.9)  # centre x, y, width, height, score of "thing"
        return head
