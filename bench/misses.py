"""Which labelled boxes of one class a model misses: one line per box, the misses first.

    .venv/bin/python bench/misses.py --class smoke                       # shipped model, fire-smoke valid
    .venv/bin/python bench/misses.py --class fire --model RUN/weights/best.pt --split ../shared/data/fire-smoke/valid

For each label box of CLASS in a YOLO split (``images/``, ``labels/``; the class matched by name
through ``data.yaml`` or ``--label-names``), the most confident prediction of that class with IoU
>= 0.5 (torch, conf 0.01, at the registry image size), its IoU and the box's share of the frame.
A box with no such prediction is a miss: that is where recall, and with it mAP50, is lost. The
model card's notes on the smoke labels come from this listing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402

import gridsight  # noqa: E402,F401  (offline before ultralytics)


def main() -> int:
    print(describe(), flush=True)
    from gridsight.settings import get_settings
    from models.registry import resolve_model
    from pipeline.track import box_iou

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--class", dest="cls", required=True, help="class name, e.g. smoke")
    ap.add_argument("--model", default=None, help="a .pt (default: the registry default)")
    ap.add_argument("--split", type=Path, default=None, help="a YOLO split folder (default: fire-smoke valid)")
    ap.add_argument("--label-names", default="Fire,default,smoke",
                    help="the split's class names by id, comma-separated (default: fire-smoke's)")
    ap.add_argument("--imgsz", type=int, default=None)
    args = ap.parse_args()

    entry = resolve_model(args.model)
    split = args.split or Path(get_settings().data) / "fire-smoke" / "valid"
    if not (split / "labels").is_dir():
        print(f"no labels/ folder in {split}", file=sys.stderr)
        return 2
    label_names = [n.strip().lower() for n in args.label_names.split(",")]
    if args.cls.lower() not in label_names:
        print(f"--class {args.cls}: not among the split's names {label_names}", file=sys.stderr)
        return 2
    label_id = label_names.index(args.cls.lower())

    from ultralytics import YOLO

    if entry.weights is None:
        print(f"model {args.model or 'default'}: no .pt weights to run", file=sys.stderr)
        return 2
    model = YOLO(str(entry.weights))
    ids = [k for k, v in model.names.items() if v.lower() == args.cls.lower()]
    if not ids:
        print(f"the model has no class {args.cls!r}", file=sys.stderr)
        return 2
    imgsz = args.imgsz or entry.imgsz or 320
    rows = []
    for lab in sorted((split / "labels").glob("*.txt")):
        boxes = [ln.split() for ln in lab.read_text().splitlines() if ln.strip()]
        boxes = [[float(v) for v in b[1:5]] for b in boxes if int(b[0]) == label_id]
        if not boxes:
            continue
        image = next((p for p in (split / "images").glob(lab.stem + ".*")), None)
        if image is None:
            continue
        r = model.predict(str(image), imgsz=imgsz, conf=0.01, verbose=False)[0]
        h, w = r.orig_shape
        preds = [(b.xyxy[0].tolist(), float(b.conf)) for b in r.boxes if int(b.cls) == ids[0]]
        for cx, cy, bw, bh in boxes:
            gt = [(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]
            hits = [(c, o) for p, c in preds if (o := box_iou(gt, p)) >= 0.5]
            conf, best = max(hits, default=(0.0, 0.0))
            rows.append((conf, best, bw * bh, lab.stem.split(".rf.")[0]))
    rows.sort()
    print(f"model {entry.weights}  class {args.cls}  split {split}  imgsz {imgsz}")
    print(f"{'image':36s} {'frame share':>11s} {'conf':>6s} {'IoU':>5s}")
    for conf, best, share, name in rows:
        print(f"{name:36s} {share:11.2f} {conf:6.2f} {best:5.2f}" + ("  MISSED" if conf == 0 else ""))
    missed = sum(1 for r in rows if r[0] == 0)
    print(f"{len(rows)} boxes, {missed} with no {args.cls} prediction at IoU >= 0.5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
