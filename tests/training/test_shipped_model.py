"""The shipped issue detector (models/weights/) is the registry default, sees fire and buses, and
seldom raises fire or smoke on ordinary CCTV scenes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gridsight.paths import REPO_ROOT
from models.dataset_prep import load_manifest, read_yolo_labels

SHIPPED = REPO_ROOT / "models" / "weights" / "gridsight-yolo11n.pt"
BUS = Path(__import__("ultralytics").__file__).parent / "assets" / "bus.jpg"


@pytest.fixture(scope="module")
def detector():
    from models.detector import load_detector

    return load_detector(None, backend="torch", device="cpu", conf=0.25)


def test_registry_default_is_the_shipped_model_with_the_manifest_classes():
    from models.registry import resolve_model

    entry = resolve_model(None)
    assert entry.weights is not None and entry.weights.resolve() == SHIPPED.resolve()
    assert SHIPPED.stat().st_size < 8_000_000  # optimizer state stripped
    assert list(entry.classes) == load_manifest(REPO_ROOT / "datasets" / "gridsight-issues.yaml").names


def largest_fire_frame(data: Path) -> np.ndarray:
    """The fire-smoke validation frame whose Fire box (class 0) is largest."""
    best, best_area = None, 0.0
    for label in sorted((data / "fire-smoke" / "valid" / "labels").glob("*.txt")):
        boxes = read_yolo_labels(label)
        fire = boxes[boxes[:, 0] == 0]
        area = float((fire[:, 3] * fire[:, 4]).max()) if len(fire) else 0.0
        if area > best_area:
            best, best_area = label, area
    assert best is not None, "no Fire box in the fire-smoke validation split"
    image = next((data / "fire-smoke" / "valid" / "images").glob(best.stem + ".*"))
    return cv2.imread(str(image))


def test_shipped_model_finds_fire_and_a_bus(shared_data, detector):
    fire, bus = detector.detect([largest_fire_frame(shared_data), cv2.imread(str(BUS))])
    assert "fire" in fire.class_names
    names = bus.class_names
    assert "bus" in names and names.count("person") >= 3


def held_out_ordinary_scenes(data: Path) -> list[Path]:
    """Fire-smoke's `default` images held out of training as negatives (the manifest's split)."""
    from models.dataset_prep import negative_held_out

    source = next(s for s in load_manifest(REPO_ROOT / "datasets" / "gridsight-issues.yaml").sources
                  if s["name"] == "fire-smoke")
    default = source["class_ids"].index("default")
    out = []
    for label in sorted((data / "fire-smoke" / "train" / "labels").glob("*.txt")):
        boxes = read_yolo_labels(label)
        if len(boxes) and (boxes[:, 0] == default).all():
            image = next((data / "fire-smoke" / "train" / "images").glob(label.stem + ".*"))
            if negative_held_out(source, image.name):
                out.append(image)
    return out


def test_ordinary_cctv_scenes_seldom_raise_fire_or_smoke(shared_data):
    """Scenes with nothing burning (never trained on): at the fire and smoke rules' min_score,
    fewer than one in six gets a fire or smoke box (the file before the negatives: 7 of 30)."""
    from models.detector import load_detector

    scenes = held_out_ordinary_scenes(shared_data)
    assert len(scenes) >= 20
    detector = load_detector(None, backend="torch", device="cpu", conf=0.35)
    flagged = [p.name for p, d in zip(scenes, detector.detect([cv2.imread(str(p)) for p in scenes]))
               if {"fire", "smoke"} & set(d.class_names)]
    assert len(flagged) * 6 < len(scenes), flagged
