"""Issue detector vs the plain COCO nano model: frames/s on the same backend, precision and size.

    .venv/bin/python bench/model_speed.py [--backend torch|openvino|onnx] [--imgsz N] [--frames N]

Both models go through the same runtime (``models.detector.load_detector``) on the same decoded
vtest.avi frames (batch 1, one thread of requests). Time it on a quiet machine (pause training:
see the project notes). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.machine import describe  # noqa: E402

import gridsight  # noqa: E402,F401  (offline before ultralytics)
import cv2  # noqa: E402

CLIP = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def frames(n: int) -> list:
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    while len(out) < n:
        ok, f = cap.read()
        if not ok:
            break
        out.append(f)
    if not out:
        sys.exit(f"cannot read {CLIP} (install opencv-doc)")
    return out


def fps(model: str, backend: str, precision: str, imgsz: int, images: list) -> tuple[float, str]:
    from models.detector import load_detector

    det = load_detector(model, backend=backend, device="cpu", imgsz=imgsz, batch=1, precision=precision)
    det.warmup(3)
    t0 = time.perf_counter()
    for f in images:
        det.detect([f])
    return len(images) / (time.perf_counter() - t0), det.source


def main() -> int:
    print(describe(), flush=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="openvino")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--models", default="coco,gridsight")
    a = ap.parse_args()
    images = frames(a.frames)
    print(f"| model | backend | precision | imgsz | frames/s | artefact |\n|---|---|---|---|---|---|")
    rows = {}
    for m in a.models.split(","):
        rows[m], source = fps(m, a.backend, a.precision, a.imgsz, images)
        print(f"| {m} | {a.backend} | {a.precision} | {a.imgsz} | {rows[m]:.1f} | {Path(source).name} |", flush=True)
    names = list(rows)
    if len(names) == 2:
        print(f"\n{names[1]} / {names[0]}: {rows[names[1]] / rows[names[0]]:.2f}x "
              f"({len(images)} frames of {CLIP.name}, batch 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
