"""Pipeline benchmark: GridSight's pipeline against the loop a user would write, same model.

    .venv/bin/python bench/pipeline.py [--seconds-limit N] [--cameras N]

1. Static CCTV (vtest.avi, camera ``campus-east`` of configs/cameras.yaml): both are fed the SAME
   sampled frames (the camera's detect_fps) from the same file. Naive: ``model.track(frame,
   persist=True)`` on every sampled frame (Ultralytics, the same model artefact), its tracks put
   through the same rules and incident logic. GridSight: the pipeline (batched engine, motion
   gating, decode/inference/judging overlapped). Prints frames/s and the tickets each found.
2. Motion everywhere: vtest panned (a moving crop: every pixel changes), a camera whose rules
   apply everywhere. Pipeline frames/s against the detector's raw batched throughput on the
   same frames (already decoded, in memory).
3. Many cameras: N cameras of the panned clip at once; detections/s summed, cameras sustained
   at 2 detections/s each, peak memory (RSS) of the process.

Time it on a quiet machine (pause training: see the project notes). Prints a README table.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gridsight  # noqa: E402,F401  (offline before ultralytics)
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from models.detections import Detections  # noqa: E402
from pipeline.cameras import Camera, find_camera, load_cameras  # noqa: E402
from pipeline.incidents import IncidentBook  # noqa: E402
from pipeline.rules import RuleBook, load_rules  # noqa: E402
from pipeline.runtime import Pipeline, PipelineOptions  # noqa: E402
from pipeline.sources import FileSource  # noqa: E402
from pipeline.track import Track  # noqa: E402
from pipeline.zones import Zone  # noqa: E402

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
START = 1_764_309_600.0


def naive(model_path: str, camera: Camera, rules, names) -> tuple[float, int, set]:
    """The loop a user writes: model.track on every sampled frame; tracks -> the same rules/incidents."""
    from ultralytics import YOLO

    model = YOLO(model_path, task="detect")
    src = FileSource(camera.url, camera.id, sample_fps=camera.detect_fps, start_time=START)
    book = RuleBook(rules, camera.zones, set(names.values()))
    incidents = IncidentBook(camera.id)
    model.track(np.zeros((576, 768, 3), np.uint8), persist=True, verbose=False)  # warm up, like ours
    model.predictor.trackers[0].reset()
    tickets, n, still = set(), 0, {}
    t0 = time.perf_counter()
    for frame in src:
        r = model.track(frame.image, persist=True, verbose=False)[0]
        tracks = []
        if r.boxes is not None and r.boxes.id is not None:
            for box, tid, score, cls in zip(r.boxes.xyxy.numpy(), r.boxes.id.numpy(), r.boxes.conf.numpy(),
                                            r.boxes.cls.numpy()):
                tid = int(tid)
                # the user's own "stationary" logic: same rule as ours (box overlap with where it stopped)
                anchor, since = still.get(tid, (box, frame.time))
                from pipeline.track import box_iou
                if box_iou(anchor, box) < 0.7:
                    anchor, since = box, frame.time
                still[tid] = (anchor, since)
                tracks.append(Track(tid, r.names[int(cls)], float(score), box, since, frame.time, since, anchor))
        for ev in incidents.observe(book.evaluate(tracks, frame.image.shape), frame.time, frame.image):
            if ev.event == "open":
                tickets.add((ev.rule.issue_type, ev.zone_id))
        n += 1
    return time.perf_counter() - t0, n, tickets


def ours(detector, camera: Camera, rules_path, n_cams: int = 1, gate: bool = True) -> tuple[float, int, set, dict]:
    opts = PipelineOptions(issues=rules_path, detector=detector, deliver=False, gate=gate)
    with Pipeline(opts) as p:
        t0 = time.perf_counter()
        procs = []
        for i in range(n_cams):
            cam = Camera(f"{camera.id}-{i}" if n_cams > 1 else camera.id, camera.url, camera.name, None,
                         camera.detect_fps, camera.zones)
            procs.append(p.add_camera(cam, FileSource(cam.url, cam.id, sample_fps=cam.detect_fps, start_time=START)))
        p.wait()
        dt = time.perf_counter() - t0
        frames = sum(pr.stats.frames for pr in procs)
        detected = sum(pr.stats.detected for pr in procs)
        counts = procs[0].policy.counts
    tickets = {(e.rule.issue_type, e.zone_id) for e in p.events if e.event == "open"}
    return dt, frames, tickets, {"detected": detected, **counts}


def panned_clip(path: Path, frames: int = 300) -> None:
    """vtest seen by a camera that pans: a 640x480 window sliding back and forth (motion everywhere)."""
    cap = cv2.VideoCapture(VTEST)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (640, 480))
    for i in range(frames):
        ok, f = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, f = cap.read()
        x = int(64 + 60 * np.sin(i / 6))
        y = int(48 + 40 * np.cos(i / 9))
        out.write(f[y:y + 480, x:x + 640])
    out.release()


def raw_throughput(detector, frames: list[np.ndarray]) -> float:
    b = detector.batch
    t0 = time.perf_counter()
    for i in range(0, len(frames), b):
        detector.detect(frames[i:i + b])
    return len(frames) / (time.perf_counter() - t0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=4, help="cameras run at once in part 3")
    ap.add_argument("--config", default="configs/cameras.yaml")
    ap.add_argument("--camera", default="campus-east")
    args = ap.parse_args()

    from gridsight.settings import get_settings
    from models.detector import load_detector

    s = get_settings()
    rules_path = s.configs / "issues.yaml"
    rules = load_rules(rules_path)
    camera = find_camera(load_cameras(args.config), args.camera)
    det = load_detector()
    det.warmup()
    print(f"detector: {det!r}", flush=True)
    rows = []

    t_ours, n_ours, tickets_ours, info = ours(det, camera, rules_path)
    t_naive, n_naive, tickets_naive = naive(det.source, camera, rules, det.names)
    print(f"static: naive {n_naive} frames {t_naive:.1f}s, ours {n_ours} frames {t_ours:.1f}s {info}", flush=True)
    assert n_naive == n_ours, "both must see the same sampled frames"
    same = tickets_ours == tickets_naive
    rows.append(("Static CCTV (vtest.avi, %g fps sampled, %d frames)" % (camera.detect_fps, n_ours),
                 f"naive `model.track` loop: {n_naive / t_naive:.1f} frames/s",
                 f"{n_ours / t_ours:.1f} frames/s ({info['detected']} detector calls)",
                 f"{t_naive / t_ours:.2f}x", ">= 4x",
                 f"same tickets: {'yes' if same else 'NO'} {sorted(tickets_ours)}"
                 + ("" if same else f" vs naive {sorted(tickets_naive)}")))

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "panned.avi"
        panned_clip(clip)
        frames = []
        cap = cv2.VideoCapture(str(clip))
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        raw_throughput(det, frames[:8])
        raw = raw_throughput(det, frames)
        everywhere = Camera("pan", str(clip), "panning", None, 10.0, [Zone("all", "any", [(0, 0), (1, 0), (1, 1), (0, 1)], True)])
        anywhere_rules = Path(tmp) / "issues.yaml"
        anywhere_rules.write_text(rules_path.read_text().replace("zones: [no_parking]", "zones: [any]"))
        t_p, n_p, _, info_p = ours(det, everywhere, anywhere_rules)
        fps_p = n_p / t_p
        print(f"motion everywhere: raw {raw:.1f}/s, pipeline {fps_p:.1f}/s {info_p}", flush=True)
        rows.append((f"Motion everywhere (vtest panned, {n_p} frames)", f"detector raw batched: {raw:.1f} frames/s",
                     f"{fps_p:.1f} frames/s ({info_p['detected']} detector calls)", f"{fps_p / raw:.2f}x", ">= 0.85x", ""))

        many = Camera("pan", str(clip), "panning", None, 10.0, everywhere.zones)
        t_m, n_m, _, info_m = ours(det, many, anywhere_rules, n_cams=args.cameras)
        per_s = info_m["detected"] / t_m
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows.append((f"{args.cameras} cameras at once (panned clip each)", "",
                     f"{per_s:.1f} detections/s in total", f"{int(per_s // 2)} cameras at 2 detections/s", "",
                     f"peak RSS {rss:.0f} MiB"))

    cpu = f"{os.cpu_count()}-core CPU, no GPU"
    print(f"\nMachine: {cpu}; model {det.backend} {det.precision} {det.imgsz}px batch {det.batch} ({Path(det.source).name})")
    print("Command: .venv/bin/python bench/pipeline.py\n")
    print("| footage | baseline | GridSight pipeline | ratio | target | notes |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
