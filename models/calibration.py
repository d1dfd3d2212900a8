"""Local int8 calibration data: frames from the sample footage and street photos, never a download.

Ultralytics' int8 export calibrates on the ``val`` images of a data yaml and, given none, would
fetch coco8/coco128. :func:`calibration_yaml` writes a data yaml over frames sampled evenly from
the footage we have (``GRIDSIGHT_DATA/footage/*.mp4``, Debian opencv-doc's ``vtest.avi``) and, for
half the set, photos from the *train* splits of the shared data sets (street garbage, fire and
smoke: what the detector meets besides CCTV; never their ``valid`` images, which
``bench/int8_accuracy.py`` scores on), and caches it (COCO YOLO11n with the quantisation recipe of
:func:`models.backends.openvino_backend.quantize`: -0.8 mAP50 points calibrated on footage alone,
-0.7 with the photos). With nothing at all it falls back to synthetic scenes and says so in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import yaml

from gridsight.settings import get_settings

log = logging.getLogger("gridsight.models.calibration")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
DEFAULT_FRAMES = 300  # what Ultralytics/NNCF recommend for int8 calibration


def footage_files() -> list[Path]:
    s = get_settings()
    files = sorted((s.data / "footage").glob("*.mp4")) if (s.data / "footage").is_dir() else []
    return files + ([VTEST] if VTEST.is_file() else [])


def sample_frames(path: Path, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or count
    wanted = set(np.linspace(0, max(total - 1, 0), count).astype(int).tolist())
    frames, i = [], 0
    while len(frames) < len(wanted):
        ok, frame = cap.read()
        if not ok:
            break
        if i in wanted:
            frames.append(frame)
        i += 1
    cap.release()
    return frames


def train_photos(count: int) -> list[Path]:
    """``count`` photos spread evenly over the shared data sets' train splits (none if absent)."""
    data = get_settings().data
    photos = sorted(p for p in data.glob("*/train/images/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not photos or count <= 0:
        return []
    return [photos[i] for i in sorted(set(np.linspace(0, len(photos) - 1, count).astype(int).tolist()))]


def synthetic_frames(count: int, size: int = 640, seed: int = 0) -> list[np.ndarray]:
    """Street-ish scenes: gradient background, noise and random boxes (a weak last resort)."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        img = np.linspace(40, 200, size, dtype=np.float32)[:, None, None].repeat(size, 1).repeat(3, 2)
        img += rng.normal(0, 12, img.shape)
        for _ in range(rng.integers(3, 12)):
            x, y = rng.integers(0, size - 40, 2)
            w, h = rng.integers(20, 200, 2)
            cv2.rectangle(img, (int(x), int(y)), (int(x + w), int(y + h)), rng.integers(0, 255, 3).tolist(), -1)
        frames.append(img.clip(0, 255).astype(np.uint8))
    return frames


def calibration_yaml(names: dict[int, str], count: int = DEFAULT_FRAMES, root: Path | None = None) -> Path:
    """A data yaml whose ``val`` split holds ``count`` local frames (built once, then reused)."""
    root = root or get_settings().cache_dir / "calibration" / f"footage-photos-{count}"
    images = root / "images"
    data = root / "data.yaml"
    if not (root / ".complete").exists():
        images.mkdir(parents=True, exist_ok=True)
        photos = train_photos(count // 2)
        files = footage_files()
        frames: list[np.ndarray] = []
        for f in files:
            frames += sample_frames(f, max(1, (count - len(photos)) // len(files)))
        frames += [img for img in (cv2.imread(str(p)) for p in photos) if img is not None]
        if not frames:
            log.warning("no footage or photos found for int8 calibration; using synthetic frames "
                        "(accuracy will suffer)")
            frames = synthetic_frames(count)
        for i, frame in enumerate(frames):
            cv2.imwrite(str(images / f"{i:05d}.jpg"), frame)
        (root / ".complete").write_text(f"{len(frames)} frames from {[str(f) for f in files] or 'no footage'} "
                                        f"and {len(photos)} train photos\n")
    data.write_text(yaml.safe_dump({"path": str(root), "train": "images", "val": "images",
                                    "names": {int(k): v for k, v in names.items()}}, allow_unicode=True))
    return data


def calibration_images(data: Path | None, names: dict[int, str]) -> list[Path]:
    """The images int8 calibrates on: a data yaml's ``val`` split (a registry entry's ``calibration``),
    else the built-in set of :func:`calibration_yaml`."""
    from ultralytics.data.utils import IMG_FORMATS, check_det_dataset

    ds = check_det_dataset(str(data if data is not None else calibration_yaml(names)))
    out: list[Path] = []
    for entry in ds["val"] if isinstance(ds["val"], list) else [ds["val"]]:
        entry = Path(entry)
        if entry.is_dir():
            out += sorted(p for p in entry.rglob("*") if p.suffix.lower().lstrip(".") in IMG_FORMATS)
        elif entry.is_file():  # a list of image paths, one per line, relative to the list's folder
            out += [entry.parent / line.strip() for line in entry.read_text().splitlines() if line.strip()]
    if not out:
        raise ValueError(f"{data}: no calibration images in its val split")
    return out
