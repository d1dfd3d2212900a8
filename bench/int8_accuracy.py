"""Does int8 keep the fp32 model's accuracy? mAP50 of the fp32 source and its int8 OpenVINO model.

    .venv/bin/python bench/int8_accuracy.py                       # registry default (COCO), pseudo-labels
    .venv/bin/python bench/int8_accuracy.py --model gridsight --data datasets/.../data.yaml   # real labels

With ``--data`` the models are scored on that yaml's ``val`` split (real labels; the model must know
its classes). Without it (the COCO model: no COCO validation set is available offline), the
reference is the fp32 .pt's own boxes (conf 0.25) on the real validation photos of the shared data
set (garbage/valid, fire-smoke/valid), so the int8 rows measure how far quantisation moves the
model from its fp32 source. Target: int8 within 1.5 mAP50 points of fp32.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def pseudo_label_set(weights: Path, out: Path, imgsz: int, limit: int) -> Path:
    from ultralytics import YOLO

    from gridsight.settings import get_settings

    data = get_settings().data
    images = sorted((data / "garbage" / "valid" / "images").glob("*.jpg")) + \
        sorted((data / "fire-smoke" / "valid" / "images").glob("*.jpg"))
    images = images[:limit]
    if not images:
        raise SystemExit(f"no validation images under {data} (set GRIDSIGHT_DATA)")
    model = YOLO(str(weights))
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir(parents=True)
    for i, img in enumerate(images):
        r = model.predict(str(img), imgsz=imgsz, conf=0.25, verbose=False)[0]
        dst = out / "images" / f"{i:05d}{img.suffix}"
        dst.symlink_to(img)
        lines = [f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}" for c, (x, y, w, h)
                 in zip(r.boxes.cls.tolist(), r.boxes.xywhn.tolist())]
        (out / "labels" / f"{i:05d}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))
    yaml_path = out / "data.yaml"
    names = "\n".join(f"  {k}: {v}" for k, v in model.names.items())
    yaml_path.write_text(f"path: {out}\ntrain: images\nval: images\nnames:\n{names}\n")
    return yaml_path


def score(model_path: Path, data: Path, imgsz: int) -> tuple[float, float]:
    from ultralytics import YOLO

    m = YOLO(str(model_path), task="detect")
    metrics = m.val(data=str(data), imgsz=imgsz, batch=1, conf=0.001, iou=0.7, device="cpu", plots=False,
                    verbose=False, project=str(data.parent / "val"), name=model_path.name)
    return float(metrics.box.map50), float(metrics.box.map)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--data", type=Path, help="data yaml with real labels (default: fp32 pseudo-labels)")
    ap.add_argument("--imgsz", type=int, default=640)
    ap.add_argument("--limit", type=int, default=500, help="images at most (pseudo-label mode)")
    args = ap.parse_args()

    import gridsight  # noqa: F401
    from models.export import artefact_for
    from models.registry import resolve_model

    entry = resolve_model(args.model)
    if entry.weights is None or not entry.weights.exists():
        raise SystemExit(f"model {entry.name!r} has no .pt weights to compare against")
    with tempfile.TemporaryDirectory(prefix="gs-int8-") as tmp:
        data = args.data or pseudo_label_set(entry.weights, Path(tmp) / "ref", args.imgsz, args.limit)
        reference = "real labels" if args.data else "the fp32 .pt's own boxes (conf 0.25)"
        rows = [("fp32 (.pt, torch)", entry.weights)]
        fp32_ov = artefact_for(entry, "openvino", "fp32", args.imgsz, 1)
        rows.append(("fp32 OpenVINO export", fp32_ov.path))
        int8 = entry.find_prebuilt("openvino", "int8", args.imgsz, 1)
        if int8 is not None:
            rows.append(("int8 OpenVINO, prebuilt", int8.path))
        ours = artefact_for(entry, "openvino", "int8", args.imgsz, 1) if int8 is None else None
        if ours is None:
            from models.export import export

            ours = export(entry.weights, "openvino", "int8", args.imgsz, 1, calibration=entry.calibration)
        rows.append(("int8 OpenVINO, our export (NNCF, footage calibration)", ours.path))
        results = [(name, *score(path, data, args.imgsz)) for name, path in rows]
    print(f"\n# int8 vs fp32, model {entry.name}, imgsz {args.imgsz}, reference: {reference}\n")
    print("| model | mAP50 | mAP50-95 | mAP50 vs fp32 (points) |")
    print("|---|---|---|---|")
    base = results[0][1]
    for name, m50, m in results:
        print(f"| {name} | {100 * m50:.1f} | {100 * m:.1f} | {100 * (m50 - base):+.1f} |")
    worst = min(100 * (m50 - base) for name, m50, _ in results if "int8" in name)
    print(f"\nworst int8 drop: {-worst:.1f} mAP50 points (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
