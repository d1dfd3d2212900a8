"""Raw YOLO head output -> per-frame boxes: confidence filter and class-aware NMS.

The detect head of YOLOv8/11 gives ``(B, 4 + nc, A)``: box centre x, y, width, height in canvas
pixels, then one score per class, for A anchors. This mirrors Ultralytics'
``non_max_suppression`` (single label per box, class-aware, at most ``max_det`` boxes) using
torchvision's C++ NMS, without its per-call overhead.
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision

MAX_CANDIDATES = 30000  # boxes fed to NMS at most (as Ultralytics)
MAX_WH = 7680  # class offset for class-aware NMS


def boxes_from_head(pred: np.ndarray, conf: float, iou: float, class_ids: np.ndarray | None = None,
                    max_det: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's head output ``(4 + nc, A)`` -> (xyxy (N, 4), scores (N,), class ids (N,)) in canvas pixels."""
    scores_all = pred[4:]
    if class_ids is not None:
        scores_all = scores_all[class_ids]
    best = scores_all.max(0)
    keep = np.flatnonzero(best > conf)
    if keep.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32)
    scores = best[keep]
    cls = scores_all[:, keep].argmax(0)
    if class_ids is not None:
        cls = class_ids[cls]
    if keep.size > MAX_CANDIDATES:
        top = np.argsort(-scores)[:MAX_CANDIDATES]
        keep, scores, cls = keep[top], scores[top], cls[top]
    cx, cy, w, h = pred[:4, keep]
    xyxy = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    t_boxes = torch.from_numpy(xyxy + (cls[:, None] * MAX_WH).astype(np.float32))
    kept = torchvision.ops.nms(t_boxes, torch.from_numpy(scores.astype(np.float32)), iou)[:max_det].numpy()
    return xyxy[kept], scores[kept].astype(np.float32), cls[kept].astype(np.int32)
