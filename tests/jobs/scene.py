"""A scripted street scene and a detector that sees it exactly.

The clip (cv2.VideoWriter, mp4v, a keyframe every 12 frames) shows a grey street with a red
car that drives into a fire lane and parks there, then leaves, and a blue truck that parks in
a no-parking bay until the end. :class:`ColorDetector` finds the red and blue boxes by colour:
the same frames always give the same detections, in any process, so runs can be compared
ticket for ticket. It has the Detector interface the pipeline uses (``names``, ``detect``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.detections import Detections

W, H, FPS = 320, 180, 10
FIRE_LANE = [[0, 100], [150, 100], [150, 180], [0, 180]]
NO_PARKING = [[170, 100], [320, 100], [320, 180], [170, 180]]
CAMERA = {"detect_fps": 2, "zones": [
    {"id": "lane-1", "kind": "fire_lane", "polygon": FIRE_LANE},
    {"id": "bay-1", "kind": "no_parking", "polygon": NO_PARKING}]}


def _x(t: float, arrive: float, leave: float, park_x: int, w: int, side: int) -> int | None:
    """Left edge of a vehicle: drives in from its side (-1 left, 1 right) over 3 s, parks,
    drives back out the same side (so vehicles never cross each other)."""
    if t < arrive - 3 or t > leave + 3:
        return None
    off = (-w - park_x) if side < 0 else (W - park_x)
    if t < arrive:
        return int(park_x + off * (arrive - t) / 3)
    if t <= leave:
        return park_x
    return int(park_x + off * (t - leave) / 3)


def make_clip(path: Path, seconds: float = 150.0, car=(8.0, 75.0), truck=(30.0, 999.0)) -> Path:
    """Write the scene; ``car``/``truck`` = (parks at, leaves at) in seconds."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (W, H))
    for i in range(int(seconds * FPS)):
        t = i / FPS
        img = np.full((H, W, 3), 110, np.uint8)
        cv2.line(img, (0, 100), (W, 100), (200, 200, 200), 2)
        cv2.putText(img, f"{t:6.1f}", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
        x = _x(t, car[0], car[1], 40, 60, -1)
        if x is not None:
            cv2.rectangle(img, (x, 120), (x + 60, 160), (0, 0, 230), -1)
        x = _x(t, truck[0], truck[1], 220, 70, 1)
        if x is not None:
            cv2.rectangle(img, (x, 115), (x + 70, 165), (230, 0, 0), -1)
        writer.write(img)
    writer.release()
    return path


class ColorDetector:
    """Red blobs are cars, blue blobs are trucks (COCO ids 2 and 7)."""

    names = {2: "car", 7: "truck"}
    backend, device, batch = "scripted", "cpu", 4

    def __init__(self, device: str = "cpu") -> None:
        self.device = device

    def detect(self, frames) -> list[Detections]:
        out = []
        for img in frames:
            boxes, scores, ids = [], [], []
            for cid, channel in ((2, 2), (7, 0)):
                others = [c for c in range(3) if c != channel]
                mask = ((img[:, :, channel] > 150) & (img[:, :, others[0]] < 80)
                        & (img[:, :, others[1]] < 80)).astype(np.uint8)
                n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
                for j in range(1, n):
                    x, y, w, h, area = stats[j]
                    if area >= 200:
                        boxes.append([x, y, x + w, y + h])
                        scores.append(0.9)
                        ids.append(cid)
            out.append(Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                                  np.array(ids, np.int32), self.names))
        return out


def make_detector(device: str = "cpu") -> ColorDetector:
    return ColorDetector(device)
