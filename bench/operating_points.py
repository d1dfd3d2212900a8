"""Choose each issue class's score threshold from data and record it with the model.

    .venv/bin/python bench/operating_points.py            # print the choice (the registry default)
    .venv/bin/python bench/operating_points.py --write    # and write it into configs/models.yaml

The curve of each class is taken on the prepared set's **validation** split of every source plus
the held-out ordinary CCTV scenes of the validation side (fire-smoke-negatives: no labels, so any
box there is a false positive); the untouched test split is never read here. Per class, the
threshold is the lowest score at which precision (IoU 0.5 against the labels; for the COCO classes
against the COCO teacher's boxes) reaches the class's target: the highest recall the target
allows (models.operating_points.choose). A class with fewer than MIN_LABELLED validation boxes,
or whose curve never reaches its target, gets no point: its rules keep configs/issues.yaml's
``min_score`` or the fallback. Prints a Markdown table; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import gridsight  # noqa: E402,F401  (offline before ultralytics)

# Target precision per class (the rule behind each threshold). Fire and smoke tickets dispatch
# fire-rescue, garbage tickets a street crew, parking tickets an officer: 0.9 for each. Water 0.75:
# its labels are mask components that the model merges and splits, so box matching understates it
# (the rule judges the area covered, not boxes), and at 0.9 it keeps 15 % of the water boxes.
TARGETS = {"fire": 0.9, "smoke": 0.9, "garbage": 0.9, "garbage_bin": 0.9, "overflow": 0.9, "water": 0.75,
           "car": 0.9, "truck": 0.9, "bus": 0.9, "motorcycle": 0.9, "bicycle": 0.9,
           "umbrella": 0.9, "chair": 0.9, "bench": 0.9, "dining table": 0.9}
MIN_LABELLED = 8  # fire has 9 validation boxes: its point is a coarse one
CACHE = REPO / "var" / "operating-points"


def split_images(prepared: Path, part: str) -> list[Path]:
    """Every image of the prepared set's ``part`` (val or test) lists, all sources."""
    from models.evaluate import read_dataset_yaml

    out: list[Path] = []
    for y in sorted(prepared.glob(f"{part}-*.yaml")):
        out += read_dataset_yaml(y)[1]
    return out


def class_curves(weights: str, imgsz: int, prepared: Path, part: str, names: list[str]) -> dict:
    from models.operating_points import curves, predict

    preds = predict(weights, split_images(prepared, part), imgsz, CACHE)
    return curves(preds, {n: names.index(n) for n in TARGETS if n in names})


def write_points(path: Path, model: str, points: dict[str, float]) -> None:
    """Set ``operating_points`` of registry entry ``model`` in the YAML text (comments kept)."""
    lines = path.read_text().splitlines()
    start = next(i for i, x in enumerate(lines) if x == f"  {model}:")
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"  \S", lines[i])), len(lines))
    body = ", ".join(f"{k}: {v}" if " " not in k else f"'{k}': {v}" for k, v in points.items())
    new = f"    operating_points: {{{body}}}"
    old = [i for i in range(start, end) if lines[i].startswith("    operating_points:")]
    if old:
        lines[old[0]] = new
    else:
        while end > start and not lines[end - 1].strip():
            end -= 1
        lines.insert(end, new)
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    from models.evaluate import resolve_model
    from models.operating_points import choose
    from models.registry import registry_path
    from models.registry import resolve_model as registry_entry
    from models.train_cli import default_dataset_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="registry name or weights file (default: the registry default)")
    ap.add_argument("--prepared", type=Path, default=default_dataset_dir("gridsight-issues"))
    ap.add_argument("--write", action="store_true", help="record the points in configs/models.yaml")
    args = ap.parse_args()
    entry = registry_entry(args.model)
    name = entry.name
    weights, imgsz = resolve_model(args.model)
    if entry.classes:
        classes = list(entry.classes)
    else:
        from ultralytics import YOLO

        classes = list(YOLO(weights, task="detect").names.values())
    cv = class_curves(weights, imgsz or 320, args.prepared, "val", classes)
    points, rows, out = {}, [], {"model": name, "weights": weights, "classes": {}}
    for cls, curve in cv.items():
        target = TARGETS[cls]
        op = choose(curve, target) if curve.labelled >= MIN_LABELLED else None
        if op is not None and op.threshold is not None:
            points[cls] = op.threshold
            why = f"precision >= {target}: highest recall"
            rows.append(f"| {cls} | {curve.labelled} | {why} | **{op.threshold:.3f}** | {op.precision:.3f} | {op.recall:.3f} |")
        else:
            why = (f"fewer than {MIN_LABELLED} boxes" if op is None else f"precision never reaches {target}")
            rows.append(f"| {cls} | {curve.labelled} | {why}: no point | — | — | — |")
        out["classes"][cls] = {"labelled": curve.labelled, "target_precision": target,
                               "threshold": points.get(cls)}
    print(f"\nmodel {name} ({weights}), imgsz {imgsz}; validation split + held-out ordinary scenes (val side)\n")
    print("| class | val boxes | rule | threshold | val P | val R |\n|---|---|---|---|---|---|")
    print("\n".join(rows))
    if args.write:
        if args.model and Path(args.model).exists():
            sys.exit("--write needs a registry name (record a file's points by registering it first)")
        write_points(registry_path(), name, points)
        print(f"\nwritten to {registry_path()}: operating_points {points}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
