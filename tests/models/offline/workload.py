"""Runs under the network guard: import, predict, track, one-epoch train, exports, and our detector.

Usage: python workload.py WORKDIR   (prints one JSON summary line at the end)
"""

import json
import socket
import sys
from pathlib import Path

import cv2
import numpy as np

import gridsight  # noqa: F401  (offline set-up first, as every GridSight entry point does)

work = Path(sys.argv[1])
done = {}

# 0. the guard works: a non-loopback connect and lookup are refused, loopback is not. (A closed socket and
#    a numeric-only lookup: were the guard broken, these fail locally; nothing can leave the machine.)
closed = socket.socket()
closed.close()
for what, call in (("connect", lambda: closed.connect(("203.0.113.7", 80))),
                   ("dns", lambda: socket.getaddrinfo("203.0.113.9", 443, flags=socket.AI_NUMERICHOST))):
    try:
        call()
        done[f"guard_{what}"] = "NOT BLOCKED"
    except Exception as exc:
        done[f"guard_{what}"] = type(exc).__name__
try:
    socket.create_connection(("127.0.0.1", 9), timeout=1).close()
    done["loopback"] = "connected"
except ConnectionRefusedError:
    done["loopback"] = "refused by the OS (allowed through)"
except Exception as exc:
    done["loopback"] = type(exc).__name__

# 1. a tiny dataset: coloured squares on noise, YOLO labels.
rng = np.random.default_rng(0)
for split in ("train", "val"):
    (work / "data" / "images" / split).mkdir(parents=True)
    (work / "data" / "labels" / split).mkdir(parents=True)
    for i in range(4):
        img = rng.integers(0, 80, (96, 96, 3), dtype=np.uint8)
        x, y, s = int(rng.integers(10, 50)), int(rng.integers(10, 50)), 30
        cls = i % 2
        img[y:y + s, x:x + s] = (0, 0, 255) if cls == 0 else (255, 0, 0)
        cv2.imwrite(str(work / "data" / "images" / split / f"{i}.jpg"), img)
        (work / "data" / "labels" / split / f"{i}.txt").write_text(
            f"{cls} {(x + s / 2) / 96:.4f} {(y + s / 2) / 96:.4f} {s / 96:.4f} {s / 96:.4f}\n")
data_yaml = work / "data" / "data.yaml"
data_yaml.write_text(f"path: {work / 'data'}\ntrain: images/train\nval: images/val\nnames: {{0: red, 1: blue}}\n")

from ultralytics import YOLO  # noqa: E402

# 2. train one epoch from the YAML (no pretrained weights: those would be a download).
model = YOLO("yolo11n.yaml")
model.train(data=str(data_yaml), epochs=1, imgsz=64, batch=4, workers=0, device="cpu", project=str(work / "runs"),
            name="t", plots=True, val=True, amp=False, pretrained=False, verbose=False)
best = work / "runs" / "t" / "weights" / "last.pt"
done["train"] = best.exists()

# 3. predict and track with the trained checkpoint.
trained = YOLO(str(best))
frame = cv2.imread(str(work / "data" / "images" / "val" / "0.jpg"))
done["predict"] = len(trained.predict(frame, imgsz=64, conf=0.0001, verbose=False))
tracks = [trained.track(frame, imgsz=64, conf=0.0001, persist=True, verbose=False) for _ in range(3)]
done["track"] = len(tracks)

# 4. exports: ONNX and OpenVINO by Ultralytics, int8 OpenVINO (NNCF, local calibration) by our cache.
done["onnx"] = Path(YOLO(str(best)).export(format="onnx", imgsz=64, simplify=False)).exists()
done["openvino"] = Path(YOLO(str(best)).export(format="openvino", imgsz=64)).exists()
from models.detector import load_detector  # noqa: E402
from models.export import export  # noqa: E402

int8 = export(best, "openvino", "int8", 64, 1, calibration=data_yaml)
done["openvino_int8"] = int8.path.exists()
det = load_detector(str(best), backend="openvino", imgsz=64, conf=0.0001)
done["detector"] = len(det.detect([frame])) >= 0 and det.backend
print(json.dumps(done))
