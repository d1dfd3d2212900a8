"""Does quantisation keep the fp32 model's accuracy? mAP50 of the fp32 source and its OpenVINO models.

    .venv/bin/python bench/int8_accuracy.py                        # registry default (COCO): pseudo-labels
    .venv/bin/python bench/int8_accuracy.py --model gridsight --data path/to/data.yaml   # real labels

Every model runs through our own engine (``load_detector``: the letterbox, NMS and runtime we ship)
at conf 0.001, and is scored with Ultralytics' ``ap_per_class`` at IoU 0.5.

With ``--data`` the reference is the yaml's ``val`` split (real labels; the model must know those
classes). Without it (the COCO model: no COCO validation set is available offline) the reference is
the fp32 .pt's own boxes (torch, conf 0.25) on the real validation photos of the shared data set
(garbage/valid, fire-smoke/valid): the rows then say how far each artefact moves from its fp32
source. Target: int8 within 1.5 mAP50 points of fp32.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402


def load_split(data_yaml: Path, limit: int):
    """(image paths, per-image (classes, xyxy in pixels)) from a YOLO data yaml's val split."""
    import cv2
    import yaml

    doc = yaml.safe_load(data_yaml.read_text())
    root = Path(doc.get("path") or data_yaml.parent)
    root = root if root.is_absolute() else data_yaml.parent / root
    val = doc["val"] if isinstance(doc["val"], str) else doc["val"][0]
    images = sorted(p for p in (root / val).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:limit]
    truth = []
    for img in images:
        label = Path(str(img).replace("/images/", "/labels/")).with_suffix(".txt")
        rows = np.loadtxt(label, ndmin=2) if label.exists() and label.stat().st_size else np.zeros((0, 5))
        h, w = cv2.imread(str(img)).shape[:2]
        cx, cy, bw, bh = rows[:, 1] * w, rows[:, 2] * h, rows[:, 3] * w, rows[:, 4] * h
        truth.append((rows[:, 0].astype(int), np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1)))
    return images, truth


def shared_valid_images(limit: int) -> list[Path]:
    from gridsight.settings import get_settings

    data = get_settings().data
    images = []
    for ds in ("garbage", "fire-smoke"):
        images += sorted((data / ds / "valid" / "images").glob("*.jpg"))[: limit // 2]
    if not images:
        raise SystemExit(f"no validation images under {data} (set GRIDSIGHT_DATA)")
    return images


def predict(det, images: list[Path]):
    import cv2

    out = []
    for i in range(0, len(images), 8):
        frames = [cv2.imread(str(p)) for p in images[i:i + 8]]
        out += det.detect(frames)
    return out


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod((rb - lt).clip(0), axis=2)
    area = lambda x: np.prod((x[:, 2:] - x[:, :2]).clip(0), axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def map50(preds, truth) -> float:
    """COCO-style greedy matching at IoU 0.5 (highest score first), then Ultralytics' ap_per_class."""
    from ultralytics.utils.metrics import ap_per_class

    tps, confs, pcls, tcls = [], [], [], []
    for d, (gcls, gbox) in zip(preds, truth):
        tcls.append(gcls)
        order = np.argsort(-d.scores)
        tp = np.zeros(len(d), bool)
        used = np.zeros(len(gcls), bool)
        if len(d) and len(gcls):
            ious = iou_matrix(d.xyxy[order], gbox)
            for k, j in enumerate(order):
                cand = np.where((gcls == d.class_ids[j]) & ~used & (ious[k] >= 0.5))[0]
                if cand.size:
                    best = cand[np.argmax(ious[k, cand])]
                    used[best] = True
                    tp[k] = True
        tps.append(tp)
        confs.append(d.scores[order])
        pcls.append(d.class_ids[order])
    tp = np.concatenate(tps)[:, None]
    result = ap_per_class(tp, np.concatenate(confs), np.concatenate(pcls), np.concatenate(tcls))
    ap = result[5]
    return float(ap[:, 0].mean()) if len(ap) else 0.0


def main() -> int:
    print(describe(), flush=True)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--data", type=Path, help="data yaml with real labels (default: fp32 pseudo-labels)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--limit", type=int, default=300, help="images at most")
    args = ap.parse_args()

    import gridsight  # noqa: F401
    from models.detector import load_detector
    from models.export import artefact_for, export
    from models.registry import resolve_model

    entry = resolve_model(args.model)
    if entry.weights is None or not entry.weights.exists():
        raise SystemExit(f"model {entry.name!r} has no .pt weights to compare against")
    opts = dict(device="cpu", imgsz=args.imgsz, conf=0.001, batch=8)
    fp32 = load_detector(str(entry.weights), backend="torch", **opts)
    if args.data:
        images, truth = load_split(args.data, args.limit)
        reference = f"real labels ({args.data})"
    else:
        images = shared_valid_images(args.limit)
        ref_det = load_detector(str(entry.weights), backend="torch", device="cpu", imgsz=args.imgsz, conf=0.25)
        truth = [(d.class_ids, d.xyxy) for d in predict(ref_det, images)]
        reference = "the fp32 .pt's own boxes (torch, conf 0.25)"
    rows = [("fp32 .pt (torch)", fp32)]
    ov_fp32 = artefact_for(entry, "openvino", "fp32", args.imgsz, 1)
    rows.append(("OpenVINO 'fp32' export (runs bf16 where the CPU has bf16)", ov_fp32))
    prebuilt = entry.find_prebuilt("openvino", "int8", args.imgsz, 1)
    if prebuilt is not None:
        rows.append(("OpenVINO int8, prebuilt (registry)", prebuilt))
    ours = export(entry.weights, "openvino", "int8", args.imgsz, 1, calibration=entry.calibration, dynamic=True)
    rows.append(("OpenVINO int8, our export (NNCF, local calibration)", ours))

    from models.backends.openvino_backend import OpenVINODetector

    results = []
    for name, what in rows:
        det = what if not hasattr(what, "path") else OpenVINODetector(what, entry=entry, **opts, iou=0.7)
        results.append((name, map50(predict(det, images), truth)))
        print(f"  {name}: mAP50 {100 * results[-1][1]:.1f}", file=sys.stderr, flush=True)
    print(f"\n# accuracy by artefact: model {entry.name}, imgsz {args.imgsz}, {len(images)} images, "
          f"{sum(len(c) for c, _ in truth)} reference boxes; reference: {reference}\n")
    print("| model | mAP50 | vs fp32 .pt (points) |")
    print("|---|---|---|")
    base = results[0][1]
    for name, m50 in results:
        print(f"| {name} | {100 * m50:.1f} | {100 * (m50 - base):+.1f} |")
    ours_drop = 100 * (base - results[-1][1])
    print(f"\nint8 export of this .pt: {ours_drop:.1f} mAP50 points below fp32 (target <= 1.5)")
    if prebuilt is not None:
        print("(the prebuilt int8 model was quantised from the original weights, not from this .pt -- the .pt was "
              "rebuilt from it -- so its row compares two related models, not a quantisation step)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
