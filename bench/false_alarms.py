"""The false-alarm budget: tickets the product would open on footage with no issue in it.

    .venv/bin/python bench/false_alarms.py [--still-s 300] [--model NAME]

Runs the pipeline's own judging (pipeline.processing.CameraProcessor.step: tracker, rules of
configs/issues.yaml, zones, persistence, dwell, clearing) over ordinary material, each source a
camera with three zones (``any`` rules watch the whole frame; ``sidewalk`` the left third of the
lower half, ``roadway`` the rest of the lower half):

* the sample clips (footage/car-detection.mp4, footage/one-by-one-person-detection.mp4, OpenCV's
  vtest.avi), whole, at 2 sampled frames/s;
* the held-out ordinary CCTV scenes (fire-smoke's `default` images), val side (the operating
  points were chosen with them) and test side (never seen) reported apart;
* the 200 held-out street frames of the prepared set (retention: never trained on).

A still is a camera watching that frame unchanged for ``--still-s`` seconds (default 300: longer
than every rule's persistence), so one still opens at most one ticket per issue type and place.
Thresholds as the rules apply them: configs/issues.yaml's ``min_score`` where a rule sets one,
else the model's operating point for the class (configs/models.yaml), else FALLBACK; the bench
applies them by dropping each class's detections below its threshold before the pipeline sees
them. Counts ``open`` events (= tickets) per issue type and source, and per camera-hour. Prints
Markdown tables; the last line is one JSON object. Detections are cached under var/.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402

import gridsight  # noqa: E402,F401  (offline before ultralytics)
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from models.detections import Detections  # noqa: E402
from gridsight.issues import Camera  # noqa: E402
from pipeline.processing import CameraProcessor  # noqa: E402
from pipeline.rules import IssueRule  # noqa: E402
from gridsight.issues import load_catalogue  # noqa: E402
from pipeline.sources import FileSource, Frame  # noqa: E402
from gridsight.issues import parse_zones  # noqa: E402

FALLBACK = 0.35  # pipeline.rules.IssueRule's min_score when nothing else sets one
CLIPS = ["footage/car-detection.mp4", "footage/one-by-one-person-detection.mp4",
         "/usr/share/doc/opencv-doc/examples/data/vtest.avi"]
ZONES = [{"id": "sidewalk", "kind": "sidewalk", "normalized": True,
          "polygon": [[0, 0.5], [0.34, 0.5], [0.34, 1], [0, 1]]},
         {"id": "roadway", "kind": "roadway", "normalized": True,
          "polygon": [[0.34, 0.5], [1, 0.5], [1, 1], [0.34, 1]]}]
START = 1_764_309_600.0
ALARM_TYPES = ("fire", "smoke", "waterlogging")  # the target: none of these on this material


def thresholds(rules_path: Path, points: dict[str, float]) -> dict[str, float]:
    """Class -> the score a detection needs: the lowest over the rules using the class of (the
    rule's own min_score if configs/issues.yaml sets one, else the operating point, else FALLBACK)."""
    import yaml

    doc = yaml.safe_load(rules_path.read_text(encoding="utf-8"))
    out: dict[str, float] = {}
    for spec in doc["issue_types"].values():
        rule = spec.get("rule") or {}
        for cls in rule.get("classes", []):
            t = float(rule["min_score"]) if "min_score" in rule else points.get(cls, FALLBACK)
            out[cls] = min(out.get(cls, 1.0), t)
    return out


def keep_above(d: Detections, floor: dict[str, float]) -> Detections:
    return d[np.array([s >= floor.get(n, FALLBACK) for s, n in zip(d.scores, d.class_names)], bool)]


def judge(camera: Camera, frames, rules: dict[str, IssueRule], names: dict[int, str]) -> Counter:
    """Run the pipeline's judging over (Frame, Detections) pairs; count opened incidents per type."""
    opened: Counter = Counter()

    def sink(_camera, events) -> None:
        opened.update(ev.rule.issue_type for ev in events if ev.event == "open")

    proc = CameraProcessor(camera, None, None, rules, names, sink, gate=False)
    for frame, dets in frames:
        proc.step(frame, dets)
    return opened


class Detect:
    """The detector at the lowest threshold in use, results cached per image key under var/."""

    def __init__(self, model: str | None, floor: dict[str, float]) -> None:
        from models.detector import load_detector

        self.det = load_detector(model, backend="torch", device="cpu", conf=min(floor.values()))
        self.names = dict(self.det.names)
        self.floor = floor
        self.cache_path = (REPO / "var" / "false-alarms" /
                           f"{Path(self.det.source).stem}-{self.det.imgsz}-{self.det.conf:.3f}.json")
        self.cache = json.loads(self.cache_path.read_text()) if self.cache_path.is_file() else {}

    def __call__(self, key: str, image: np.ndarray) -> Detections:
        if key not in self.cache:
            d = self.det.detect([image])[0]
            self.cache[key] = [d.xyxy.tolist(), d.scores.tolist(), d.class_ids.tolist()]
        xyxy, scores, ids = self.cache[key]
        d = Detections(np.array(xyxy, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                       np.array(ids, np.int32), self.names)
        return keep_above(d, self.floor)

    def save(self) -> None:
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        self.cache_path.write_text(json.dumps(self.cache))


def clip_frames(detect: Detect, path: Path, cam: str, fps: float):
    for frame in FileSource(path, cam, sample_fps=fps, start_time=START):
        yield frame, detect(f"{path.name}:{frame.index}", frame.image)


def still_frames(detect: Detect, path: Path, cam: str, still_s: float, fps: float):
    image = cv2.imread(str(path))
    dets = detect(str(path), image)
    for k in range(int(still_s * fps)):
        yield Frame(cam, image, START + k / fps, k), dets


def main() -> int:
    print(describe(), flush=True)
    from gridsight.settings import get_settings
    from models.registry import resolve_model
    from models.train_cli import default_dataset_dir

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="registry name (default: the registry default)")
    ap.add_argument("--still-s", type=float, default=300.0, help="seconds a still stands for (default 300)")
    ap.add_argument("--prepared", type=Path, default=default_dataset_dir("gridsight-issues"))
    ap.add_argument("--threshold", type=float, default=None,
                    help="every class at this score instead (to compare with a hand-set floor, e.g. 0.35)")
    args = ap.parse_args()
    settings = get_settings()
    entry = resolve_model(args.model)
    rules_path = settings.configs / "issues.yaml"
    rules = load_catalogue(rules_path)
    floor = thresholds(rules_path, entry.operating_points)
    if args.threshold is not None:
        floor = dict.fromkeys(floor, args.threshold)
    # the bench filters by class above; the rules then take every detection they are given
    rules = {k: replace(r, min_score=0.0) for k, r in rules.items()}
    detect = Detect(args.model, floor)
    zones = parse_zones(ZONES)
    sources: dict[str, list] = {}  # source -> [(camera id, frames iterator factory, seconds)]
    for clip in CLIPS:
        path = Path(clip) if clip.startswith("/") else settings.data / clip
        if path.is_file():
            src = FileSource(path, "probe")
            seconds = src.total_frames / (src.native_fps or 25.0)
            sources.setdefault("sample clips", []).append(
                (path.stem, lambda p=path: clip_frames(detect, p, p.stem, 2.0), seconds))
    stills = {f"ordinary CCTV scenes, {part} side": (args.prepared / f"{part}-fire-smoke-negatives.txt")
              for part in ("val", "test")}
    for label, lst in stills.items():
        for p in (lst.read_text().split() if lst.is_file() else []):
            sources.setdefault(label, []).append(
                (Path(p).stem, lambda p=Path(p): still_frames(detect, p, p.stem, args.still_s, 1.0), args.still_s))
    for p in sorted((args.prepared / "images" / "retention").glob("*.jpg")):
        sources.setdefault("held-out street frames", []).append(
            (p.stem, lambda p=p: still_frames(detect, p, p.stem, args.still_s, 1.0), args.still_s))
    types = list(rules)
    out: dict = {"model": entry.name, "thresholds": floor, "still_s": args.still_s, "sources": {}}
    for label, cams in sources.items():
        total, hours, raised = Counter(), 0.0, {}
        for cam_id, frames, seconds in cams:
            camera = Camera(cam_id, cam_id, detect_fps=2.0, zones=zones)
            opened = judge(camera, frames(), rules, detect.names)
            total.update(opened)
            hours += seconds / 3600
            for t, n in opened.items():
                raised.setdefault(t, []).append(cam_id)
        out["sources"][label] = {"cameras": len(cams), "camera_hours": round(hours, 3),
                                 "tickets": dict(total), "raised_by": raised}
    detect.save()
    print(f"\nmodel {entry.name}; thresholds per class: "
          + ", ".join(f"{k} {v:.3f}" for k, v in sorted(floor.items())) + "\n")
    print("| source | cameras | camera-hours | " + " | ".join(types) + " |\n|---|---|---|" + "---|" * len(types))
    grand, hours = Counter(), 0.0
    for label, s in out["sources"].items():
        grand.update(s["tickets"])
        hours += s["camera_hours"]
        cells = [f"{s['tickets'].get(t, 0)} ({s['tickets'].get(t, 0) / s['camera_hours']:.2f}/h)" if s["tickets"].get(t)
                 else "0" for t in types]
        print(f"| {label} | {s['cameras']} | {s['camera_hours']:.2f} | " + " | ".join(cells) + " |")
    cells = [f"**{grand.get(t, 0)}** ({grand.get(t, 0) / hours:.2f}/h)" if grand.get(t) else "**0**" for t in types]
    print(f"| all | {sum(s['cameras'] for s in out['sources'].values())} | {hours:.2f} | " + " | ".join(cells) + " |")
    for t in ALARM_TYPES:
        who = {label: s["raised_by"][t] for label, s in out["sources"].items() if t in s["raised_by"]}
        print(f"\n{t}: {'0 tickets (target met)' if not who else 'raised by ' + json.dumps(who)}")
    out["total"] = dict(grand)
    out["camera_hours"] = round(hours, 3)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
