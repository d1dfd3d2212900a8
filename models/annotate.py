"""Draw detections on a frame (boxes and "name score" labels), for `gridsight detect --save`."""

from __future__ import annotations

import cv2
import numpy as np

from models.detections import Detections


def class_color(class_id: int) -> tuple[int, int, int]:
    rng = np.random.default_rng(class_id * 7919 + 17)
    return tuple(int(v) for v in rng.integers(60, 255, 3))


def draw_detections(frame: np.ndarray, dets: Detections) -> np.ndarray:
    out = frame.copy()
    thick = max(1, round(sum(frame.shape[:2]) / 700))
    scale = thick / 3
    for box, score, cid, name in zip(dets.xyxy, dets.scores, dets.class_ids, dets.class_names):
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        color = class_color(int(cid))
        cv2.rectangle(out, (x1, y1), (x2, y2), color, thick)
        label = f"{name} {score:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, thick // 2))
        ty = y1 - 2 if y1 - th - base - 2 >= 0 else y1 + th + base + 2
        tx = max(0, min(x1, out.shape[1] - tw - 3))  # keep the label inside the frame
        cv2.rectangle(out, (tx, ty - th - base), (tx + tw + 2, ty + 1), color, -1)
        cv2.putText(out, label, (tx + 1, ty - base + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0),
                    max(1, thick // 2), cv2.LINE_AA)
    return out
