"""The default model's accuracy against the issue's targets: the tables of models/weights/MODEL_CARD.md.

    .venv/bin/python bench/model_card.py                     # the shipped model (registry default)
    .venv/bin/python bench/model_card.py --model RUN/weights/best.pt

Runs ``gridsight eval`` (models.evaluate) at the registry image size on the prepared set's
validation split (what training and shipping select on) and its untouched test split (whole
clips / scenes never selected on, see datasets/gridsight-issues.yaml) of fire-smoke, garbage and
water, side by side, and the COCO retention frames (teacher labels, never trained on); shows each
operating point of the registry (configs/models.yaml) with its precision and recall on both
splits; counts false alarms on the held-out ordinary CCTV scenes (fire-smoke's `default` images,
val and test sides) and scores the bus pasted into the parking tests' street (bus vs truck).
Needs the prepared set (``gridsight dataset prepare``, default
~/.cache/gridsight/datasets/gridsight-issues). Prints Markdown tables; the last line is one
JSON object with every number.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gridsight  # noqa: E402,F401  (offline before ultralytics)

TARGETS = {"fire": 0.85, "smoke": 0.95, "garbage": 0.78, "garbage_bin": 0.88, "overflow": 0.90, "water": 0.45}
RETENTION_CLASSES = ["person", "car", "truck", "motorcycle", "bicycle", "bus"]
RETENTION_TARGET = 0.85
MIN_SCORE = 0.35  # the fire and smoke rules' hand-set min_score before the operating points


def false_alarms(model, paths: list[str], imgsz: int, points: dict[str, float] | None = None) -> dict:
    """How many of these images with nothing burning get a fire or smoke box (``model``: an
    Ultralytics YOLO) at the former min_score 0.35, stricter thresholds and (``points``) at the
    fire and smoke operating points."""
    ids = {k: v for k, v in model.names.items() if v in ("fire", "smoke")}
    top = []
    for i in range(0, len(paths), 16):
        for r in model.predict(paths[i:i + 16], imgsz=imgsz, conf=0.05, verbose=False):
            best = {"fire": 0.0, "smoke": 0.0}
            for b in r.boxes:
                if int(b.cls) in ids:
                    best[ids[int(b.cls)]] = max(best[ids[int(b.cls)]], float(b.conf))
            top.append(best)
    counts = {str(c): sum(max(t.values()) >= c for t in top) for c in (MIN_SCORE, 0.5, 0.7)}
    if points and {"fire", "smoke"} <= set(points):
        counts["operating points"] = sum(t["fire"] >= points["fire"] or t["smoke"] >= points["smoke"] for t in top)
    return {"images": len(paths), "images_with_fire_or_smoke": counts}


def pasted_bus(weights: str, imgsz: int) -> dict:
    """The parking tests' scene (tests/loop/scene.py): bus.jpg's bus pasted into a vtest.avi
    street, as is and JPEG-coded at quality 75 (as MJPG footage is). The best bus and truck
    scores on boxes overlapping it (IoU > 0.3), OpenVINO fp32 as the pipeline runs it: the
    parking rules need the bus above their min_score (0.35) and no truck."""
    import cv2

    from models.detector import load_detector
    from pipeline.track import box_iou
    from tests.loop.scene import Street

    street = Street()
    img = street.frame(bus=True)
    h, w = street.bus.shape[:2]
    pasted = (60, 500 - h, 60 + w, 500)  # where Street.frame pastes it
    coded = cv2.imdecode(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 75])[1], cv2.IMREAD_COLOR)
    det = load_detector(weights, backend="openvino", precision="fp32", imgsz=imgsz, conf=0.05)
    out = {}
    for label, frame in (("raw", img), ("jpeg", coded)):
        d = det.detect([frame])[0]
        out[label] = {c: round(float(max((s for s, k, box in zip(d.scores, d.class_ids, d.xyxy)
                                          if d.names[int(k)] == c and box_iou(box, pasted) > 0.3), default=0.0)), 2)
                      for c in ("bus", "truck")}
    return out


SPLITS = [("fire-smoke", ["fire", "smoke"]), ("garbage", ["garbage", "garbage_bin", "overflow"]), ("water", ["water"])]


def operating_point_rows(weights: str, imgsz: int, prepared: Path, points: dict[str, float]) -> tuple[list[str], dict]:
    """Each recorded operating point's precision and recall on the validation and test splits."""
    from ultralytics import YOLO

    from bench.operating_points import TARGETS, class_curves

    names = list(YOLO(weights, task="detect").names.values())
    val, test = (class_curves(weights, imgsz, prepared, part, names) for part in ("val", "test"))
    rows, out = [], {}
    for cls, t in points.items():
        if cls not in val:
            continue
        vp, vr, *_ = val[cls].at(t)
        tp, tr, right, wrong = test[cls].at(t)
        out[cls] = {"threshold": t, "val": [round(vp, 3), round(vr, 3)], "test": [round(tp, 3), round(tr, 3)],
                    "test_boxes": test[cls].labelled}
        tp_text = f"{tp:.3f}" if right + wrong else "— (none)"
        rows.append(f"| {cls} | precision >= {TARGETS[cls]} on val | **{t:.3f}** | {vp:.3f} | {vr:.3f} | "
                    f"{test[cls].labelled} | {tp_text} | {tr:.3f} | {right} / {wrong} |")
    return rows, out


def main() -> int:
    from models.evaluate import evaluate, resolve_model
    from models.registry import resolve_model as registry_entry
    from models.train_cli import default_dataset_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="weights path or registry name (default: the registry default)")
    ap.add_argument("--imgsz", type=int, default=None, help="default: the registry's size for the model, else 320")
    ap.add_argument("--prepared", type=Path, default=default_dataset_dir("gridsight-issues"),
                    help="the prepared set (its val and test splits, the negatives and the retention frames)")
    args = ap.parse_args()
    if not (args.prepared / "report.json").is_file() or not list(args.prepared.glob("test-*.yaml")):
        sys.exit(f"no prepared set with a test split in {args.prepared}: run `gridsight dataset prepare` first")
    weights, registry_imgsz = resolve_model(args.model)
    imgsz = args.imgsz or registry_imgsz or 320
    out: dict = {"imgsz": imgsz, "model": weights, "splits": {}}
    rows = []
    for source, classes in SPLITS:
        r = {part: evaluate(args.prepared / f"{part}-{source}.yaml", model=args.model, imgsz=imgsz, classes=classes)
             for part in ("val", "test")}
        for part in r:
            out["splits"][f"{source} {part}"] = {"images": r[part].images, **r[part].as_json()}
        for i, name in enumerate(classes):
            v, t = r["val"].classes.get(name), r["test"].classes.get(name)
            if v is None or t is None:
                continue
            target = TARGETS.get(name)
            verdict = "" if target is None else f"{target:.2f} {'met' if t.map50 >= target else '**missed**'}"
            head = f"{source} ({r['val'].images} / {r['test'].images} img)" if i == 0 else ""
            rows.append(f"| {head} | {name} | {v.instances} | {v.precision:.3f} | {v.recall:.3f} | {v.map50:.3f} | "
                        f"{t.instances} | {t.precision:.3f} | {t.recall:.3f} | **{t.map50:.3f}** | {t.map50_95:.3f} | {verdict} |")
    from ultralytics import YOLO

    model = YOLO(weights, task="detect")  # one load for every false-alarm count
    points = registry_entry(args.model).operating_points  # none for a model given as a file
    for part in ("val", "test"):
        negatives = args.prepared / f"{part}-fire-smoke-negatives.txt"
        if negatives.is_file():
            out[f"false_alarms_{part}"] = false_alarms(model, negatives.read_text().split(), imgsz, points)
    street = sorted(str(p) for p in (args.prepared / "images" / "retention").glob("*.jpg"))
    out["false_alarms_street"] = false_alarms(model, street, imgsz, points)
    out["pasted_bus"] = pasted_bus(weights, imgsz)
    ret = evaluate(args.prepared / "retention.yaml", model=args.model, imgsz=imgsz, classes=RETENTION_CLASSES)
    weighted = ret.weighted_map50() or 0.0
    out["retention"] = {"images": ret.images, "box_weighted_map50": round(weighted, 4), **ret.as_json()}
    op_rows, out["operating_points"] = operating_point_rows(weights, imgsz, args.prepared, points)
    print(f"\nmodel {weights}  imgsz {imgsz}\n")
    print("Validation (selected on) and the untouched test split (never selected on), side by side:\n")
    print("| source (val / test img) | class | val boxes | val P | val R | val mAP50 | test boxes | test P | test R | "
          "test mAP50 | test mAP50-95 | target mAP50 (on test) |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    per = ", ".join(f"{n} {m.map50:.3f} ({m.instances})" for n, m in ret.classes.items())
    print(f"\nCOCO retention ({ret.images} held-out street frames, teacher labels): box-weighted mAP50 "
          f"**{weighted:.3f}** (target {RETENTION_TARGET}: {'met' if weighted >= RETENTION_TARGET else 'missed'}); "
          f"{per}\n")
    if op_rows:
        print("Operating points (configs/models.yaml; chosen on val + the val-side ordinary scenes), at IoU 0.5:\n")
        print("| class | rule | threshold | val P | val R | test boxes | test P | test R | test right / wrong |\n"
              "|---|---|---|---|---|---|---|---|---|")
        print("\n".join(op_rows) + "\n")
    for part in ("val", "test"):
        fa = out.get(f"false_alarms_{part}")
        if fa:
            at = ", ".join(f"{n} at {c if c[0].isalpha() else '>= ' + c}" for c, n in fa["images_with_fire_or_smoke"].items())
            print(f"False alarms ({fa['images']} held-out ordinary CCTV scenes, {part} side, no fire or smoke in view): "
                  f"images with a fire or smoke box: {at}\n")
    fs = out["false_alarms_street"]
    print(f"False alarms on the {fs['images']} retention street frames: "
          f"{fs['images_with_fire_or_smoke'][str(MIN_SCORE)]} with a fire or smoke box at {MIN_SCORE}, "
          f"{fs['images_with_fire_or_smoke'].get('operating points', '-')} at the operating points\n")
    pb = out["pasted_bus"]
    print("Pasted bus (the parking tests' scene; raw / JPEG-coded): bus "
          f"{pb['raw']['bus']:.2f} / {pb['jpeg']['bus']:.2f}, truck {pb['raw']['truck']:.2f} / {pb['jpeg']['truck']:.2f} "
          f"(needs bus >= 0.35 and no truck)\n")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
