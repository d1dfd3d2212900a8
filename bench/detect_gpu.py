"""GPU throughput: our engine (torch fp16, TensorRT where it imports) vs the naive loop, on one card.

    bash bench/detect_gpu.sh        # the prepared device-machine run (< 8 minutes)

Frames are made in memory (bus.jpg at 1920x1080 and 768x576, alternating), so the run needs
nothing from ../shared. The model is the registry default's .pt when present, else YOLO11n built
from yolo11n.yaml (same graph, random weights: the same speed). Every row returns Detections on
the host (numpy), i.e. includes the GPU->CPU copy and NMS. Target: >= 1,500 frames/s at 640, fp16.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.machine import describe  # noqa: E402


def frames(n: int):
    import cv2
    import ultralytics

    bus = cv2.imread(str(Path(ultralytics.__file__).parent / "assets" / "bus.jpg"))
    hd, sd = cv2.resize(bus, (1920, 1080)), cv2.resize(bus, (768, 576))
    return [hd if i % 2 == 0 else sd for i in range(n)]


def weights(tmp: Path) -> Path:
    from models.registry import resolve_model

    try:
        w = resolve_model("default").weights
        if w and w.exists():
            return w
    except Exception:
        pass
    from ultralytics import YOLO

    path = tmp / "yolo11n-random.pt"
    YOLO("yolo11n.yaml").save(str(path))
    return path


def timed(fn, fs, seconds: float) -> tuple[float, int]:
    fn(fs[:64])  # warm-up (cudnn autotune, engine load)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(fs)
        n += len(fs)
    return n / (time.perf_counter() - t0), n


def main() -> int:
    print(describe(), flush=True)
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=512)
    ap.add_argument("--seconds", type=float, default=15.0, help="per row")
    ap.add_argument("--batches", default="1,16,64,128")
    args = ap.parse_args()

    import gridsight  # noqa: F401
    import torch

    if not torch.cuda.is_available():
        print("no CUDA device visible to torch; nothing to measure", file=sys.stderr)
        return 1
    from ultralytics import YOLO

    from models.detector import available_backends, load_detector

    card = torch.cuda.get_device_name(0)
    fs = frames(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        w = weights(Path(tmp))
        print(f"# bench/detect_gpu.py on {card}, torch {torch.__version__}, model {w.name}, imgsz 640, "
              f"frames half 1920x1080 / half 768x576, results on the host\n")
        print("| engine | batch | frames/s | ms/frame |")
        print("|---|---|---|---|")
        naive = YOLO(str(w))
        fps, _ = timed(lambda b: [naive.predict(f, imgsz=640, half=True, device=0, verbose=False) for f in b],
                       fs[:128], args.seconds)
        print(f"| naive YOLO.predict per frame (fp16) | 1 | {fps:.0f} | {1000 / fps:.2f} |", flush=True)
        backends = [b for b in available_backends("cuda:0")]
        for backend in reversed(backends):  # torch first, then tensorrt
            for b in [int(x) for x in args.batches.split(",")]:
                try:
                    det = load_detector(str(w), backend=backend, device="cuda:0", imgsz=640, batch=b,
                                        precision="fp16")
                    fps, _ = timed(det.detect, fs, args.seconds)
                    print(f"| {backend} {det.precision} | {b} | {fps:.0f} | {1000 / fps:.2f} |", flush=True)
                    del det
                    torch.cuda.empty_cache()
                except Exception as exc:  # report and go on: one row failing should not lose the rest
                    print(f"| {backend} fp16 | {b} | error: {type(exc).__name__}: {str(exc)[:100]} | |", flush=True)
    print("\ntarget: >= 1,500 frames/s (yolo11n, 640, fp16, batched, results on the host)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
