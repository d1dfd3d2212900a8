"""Operating points: the score threshold per class, chosen from a precision-recall curve.

A detection counts as right when it overlaps an unmatched labelled box of its class at IoU >= 0.5
(greedy, best score first, per image: how mAP50 counts); images with no labels (ordinary scenes)
add only false positives. :func:`choose` takes the lowest threshold (the highest recall) whose
precision reaches the class's target. The chosen points are recorded per model in
``configs/models.yaml`` (``operating_points: {class: score}``), where the rules read them
(bench/operating_points.py chooses and writes them; bench/model_card.py reports them on the
untouched test split).

>>> curve = Curve.from_matches([0.9, 0.8, 0.3], [True, True, False], labelled=3)
>>> choose(curve, min_precision=0.9).threshold
0.8
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.dataset_prep import read_yolo_labels
from models.evaluate import label_path

IOU = 0.5
PREDICT_CONF = 0.01  # the lowest score kept; no operating point goes below it


@dataclass(frozen=True)
class Curve:
    """One class's detections on a set, best score first, each right or wrong."""

    scores: np.ndarray  # (N,) descending
    right: np.ndarray  # (N,) bool
    labelled: int  # labelled boxes of the class in the set

    @classmethod
    def from_matches(cls, scores, right, labelled: int) -> "Curve":
        s, r = np.asarray(scores, float), np.asarray(right, bool)
        order = np.argsort(-s, kind="stable")
        return cls(s[order], r[order], int(labelled))

    def at(self, threshold: float) -> tuple[float, float, int, int]:
        """(precision, recall, right, wrong) of the detections scoring >= ``threshold``."""
        keep = self.scores >= threshold
        tp, fp = int(self.right[keep].sum()), int((~self.right[keep]).sum())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / self.labelled if self.labelled else 0.0
        return precision, recall, tp, fp


@dataclass(frozen=True)
class OperatingPoint:
    threshold: float | None  # None: no threshold reaches the target
    precision: float
    recall: float


def choose(curve: Curve, min_precision: float, floor: float = PREDICT_CONF) -> OperatingPoint:
    """The lowest threshold (>= ``floor``, rounded down to 3 decimals, as recorded) at which
    precision >= ``min_precision``: the highest recall the target allows. No such threshold (or no
    labelled box): threshold None."""
    if not curve.labelled:
        return OperatingPoint(None, 0.0, 0.0)
    for t in sorted({math.floor(s * 1000) / 1000 for s in curve.scores if s >= floor}):
        precision, recall, _, _ = curve.at(t)
        if precision >= min_precision:
            return OperatingPoint(t, precision, recall)
    return OperatingPoint(None, 0.0, 0.0)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes a (N, 4) and b (M, 4)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area = lambda x: np.prod(np.clip(x[:, 2:] - x[:, :2], 0, None), axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-12)


def _xyxy(cxcywh: np.ndarray) -> np.ndarray:
    c, s = cxcywh[:, :2], cxcywh[:, 2:4] / 2
    return np.concatenate([c - s, c + s], 1)


def curves(predictions: dict[str, np.ndarray], class_ids: dict[str, int]) -> dict[str, Curve]:
    """Per class name, the curve of ``predictions`` (image path -> (N, 6) class, cx, cy, w, h,
    score, normalised) against each image's YOLO labels (same class ids as the model)."""
    scores = {n: [] for n in class_ids}
    right = {n: [] for n in class_ids}
    labelled = dict.fromkeys(class_ids, 0)
    for image, pred in predictions.items():
        truth = read_yolo_labels(label_path(Path(image)))
        for name, cid in class_ids.items():
            gt = _xyxy(truth[truth[:, 0] == cid][:, 1:5])
            p = pred[pred[:, 0] == cid]
            p = p[np.argsort(-p[:, 5], kind="stable")]
            labelled[name] += len(gt)
            ious = _iou(_xyxy(p[:, 1:5]), gt) if len(p) and len(gt) else np.zeros((len(p), 0))
            taken = np.zeros(len(gt), bool)
            for k in range(len(p)):
                hit = False
                if ious.shape[1]:
                    cand = np.where(taken, -1.0, ious[k])
                    j = int(cand.argmax())
                    if cand[j] >= IOU:
                        taken[j] = hit = True
                scores[name].append(float(p[k, 5]))
                right[name].append(hit)
    return {n: Curve.from_matches(scores[n], right[n], labelled[n]) for n in class_ids}


def predict(weights: str | Path, images: list[Path], imgsz: int, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Image path -> (N, 6) class, cx, cy, w, h, score (normalised) at conf PREDICT_CONF; cached
    under ``cache_dir`` by the weights' bytes, the image size and the image list."""
    weights = Path(weights)
    key = hashlib.sha1(weights.read_bytes() + f"{imgsz}|{PREDICT_CONF}|".encode()
                       + "\n".join(map(str, images)).encode()).hexdigest()[:16]
    cached = cache_dir / f"predictions-{key}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        return {k: np.array(v, np.float32).reshape(-1, 6) for k, v in json.loads(cached.read_text()).items()}
    from ultralytics import YOLO

    model = YOLO(str(weights), task="detect")
    out: dict[str, np.ndarray] = {}
    for i in range(0, len(images), 16):
        chunk = [str(p) for p in images[i:i + 16]]
        for path, r in zip(chunk, model.predict(chunk, imgsz=imgsz, conf=PREDICT_CONF, verbose=False)):
            b = r.boxes
            out[path] = np.concatenate([b.cls.cpu().numpy()[:, None], b.xywhn.cpu().numpy(),
                                        b.conf.cpu().numpy()[:, None]], 1).astype(np.float32)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({k: np.round(v, 5).tolist() for k, v in out.items()}))
    return out
