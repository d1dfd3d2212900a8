"""Water on the street: the waterlogging rule judged on flooded and dry stills, by zone area.

    .venv/bin/python bench/waterlogging.py [--model NAME]

Each still is a camera with the roadway and sidewalk zones of bench/false_alarms.py (the lower
half of the frame). The rule of configs/issues.yaml (`waterlogging`: class water, zones roadway /
sidewalk, min_area_share) is judged as the pipeline judges it (pipeline.rules.RuleBook over the
detections, the share of the zone covered by the union of the water boxes at the class's
threshold: configs/issues.yaml's min_score if set, else the model's operating point):

* **found**: a water box at the threshold overlaps a roadway or sidewalk zone;
* **raised**: the rule holds (covered share >= min_area_share): a ticket once it lasts.

Flooded stills: the water test split (never selected on) whose mask covers at least
min_area_share of a zone (the same judgement on the mask; the rest of that split is listed
apart: water in view, under the share in the zones); dry: the test side of the ordinary CCTV
scenes, the garbage test photos (streets and pavements) and the held-out street frames. Hard
negatives for future training come from the training side only (the test split stays
untouched): the street frames, garbage photos and ordinary scenes of the train lists with a
water box at >= 0.1 anywhere, highest first (var/water-hard-negatives.txt). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402

import gridsight  # noqa: E402,F401  (offline before ultralytics)
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from bench.false_alarms import ZONES, Detect, thresholds  # noqa: E402
from pipeline.rules import RuleBook  # noqa: E402
from gridsight.issues import load_catalogue  # noqa: E402
from pipeline.track import Track  # noqa: E402
from gridsight.issues import parse_zones  # noqa: E402

HARD_NEGATIVE_SCORE = 0.1
TRAIN_DRY = ("street", "garbage", "fire-smoke-negatives")  # train lists scanned for hard negatives
STREET = ("ordinary CCTV scenes (test side)", "garbage street photos (test)", "held-out street frames")


def mask_share(mask_path: Path, zones, shape) -> float:
    """The largest share of a zone that the labelled water mask covers."""
    mask = cv2.imread(str(mask_path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        return 0.0
    mask = cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 128
    return max(float((z.mask(shape) > 0)[mask].sum()) / max(1, int((z.mask(shape) > 0).sum())) for z in zones)


def judge(book: RuleBook, dets, shape) -> tuple[bool, bool]:
    """(found, raised) of the waterlogging rule on one frame's detections (already thresholded)."""
    tracks = [Track(i, n, float(s), b, 0.0, 0.0, 0.0, b) for i, (b, s, n) in
              enumerate(zip(dets.xyxy, dets.scores, dets.class_names)) if n == "water"]
    obs = book.evaluate(tracks, shape)
    return any(o.subjects for o in obs), any(o.present for o in obs)


def main() -> int:
    print(describe(), flush=True)
    from dataclasses import replace

    from gridsight.settings import get_settings
    from models.evaluate import read_dataset_yaml
    from models.registry import resolve_model
    from models.train_cli import default_dataset_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--prepared", type=Path, default=default_dataset_dir("gridsight-issues"))
    args = ap.parse_args()
    settings = get_settings()
    entry = resolve_model(args.model)
    rules_path = settings.configs / "issues.yaml"
    floor = thresholds(rules_path, entry.operating_points)
    rule = replace(load_catalogue(rules_path)["waterlogging"], min_score=floor["water"])
    zones = parse_zones(ZONES)
    book = RuleBook([rule], zones)
    detect = Detect(args.model, {**floor, "water": min(floor["water"], HARD_NEGATIVE_SCORE)})
    masks = settings.data / "water-segmentation" / "masks"

    groups: dict[str, list[Path]] = {"flooded": [], "flood photos, zones under the share": []}
    for img in read_dataset_yaml(args.prepared / "test-water.yaml")[1]:
        shape = cv2.imread(str(img)).shape
        share = mask_share(masks / (img.name.split("__", 1)[1].rsplit(".", 1)[0] + ".png"), zones, shape)
        groups["flooded" if share >= rule.min_area_share else "flood photos, zones under the share"].append(img)
    for label, lst in (("ordinary CCTV scenes (test side)", "test-fire-smoke-negatives.txt"),
                       ("garbage street photos (test)", "test-garbage.txt")):
        groups[label] = [Path(p) for p in (args.prepared / lst).read_text().split()]
    groups["held-out street frames"] = sorted((args.prepared / "images" / "retention").glob("*.jpg"))

    rows, out, hard = [], {"threshold": floor["water"], "min_area_share": rule.min_area_share, "groups": {}}, []
    for label, images in groups.items():
        found = raised = 0
        for img in images:
            frame = cv2.imread(str(img))
            dets = detect(str(img), frame)
            water = dets[np.array([n == "water" for n in dets.class_names], bool)]
            f, r = judge(book, water[water.scores >= floor["water"]], frame.shape)
            found, raised = found + f, raised + r
        out["groups"][label] = {"stills": len(images), "found": found, "raised": raised}
        kind = "dry" if label in STREET else "flooded" if label == "flooded" else "water, under the share"
        rows.append(f"| {label} | {kind} | {len(images)} | {found} | {raised} |")
    for source in TRAIN_DRY:
        for img in (Path(x) for x in (args.prepared / f"train-{source}.txt").read_text().split()):
            dets = detect(str(img), cv2.imread(str(img)))
            water = dets.scores[np.array([n == "water" for n in dets.class_names], bool)]
            if len(water):
                hard.append((float(water.max()), source, str(img)))
    detect.save()
    hard.sort(reverse=True)
    lst = REPO / "var" / "water-hard-negatives.txt"
    lst.parent.mkdir(parents=True, exist_ok=True)
    lst.write_text("".join(f"{s:.3f}\t{label}\t{p}\n" for s, label, p in hard))
    out["hard_negatives"] = len(hard)
    print(f"\nwaterlogging: water >= {floor['water']:.3f}, covered share >= {rule.min_area_share} of a roadway / "
          f"sidewalk zone (the lower half of each still)\n")
    print("| stills | truth | count | found (water in a zone) | raised (rule holds) |\n|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nHard negatives (dry training stills, {', '.join(TRAIN_DRY)}, with a water box >= "
          f"{HARD_NEGATIVE_SCORE}): {len(hard)}, listed in {lst}; the highest:")
    for s, label, p in hard[:8]:
        print(f"- {s:.2f} {label}: {Path(p).name}")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
