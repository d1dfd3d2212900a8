"""Tiny generated datasets for the training tests (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

import gridsight  # noqa: F401  (offline before ultralytics)


def draw_scene(rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, list[tuple[int, float, float, float, float]]]:
    """A noisy image with one bright red square (class 0) and one grey square (class 2)."""
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    boxes = []
    for cls, colour in ((0, (0, 0, 255)), (2, (170, 170, 170))):
        w = int(rng.integers(size // 5, size // 3))
        x, y = int(rng.integers(0, size - w)), int(rng.integers(0, size - w))
        img[y:y + w, x:x + w] = colour
        boxes.append((cls, (x + w / 2) / size, (y + w / 2) / size, w / size, w / size))
    return img, boxes


def write_yolo_split(root: Path, split: str, n: int, seed: int, extra_lines: dict[int, str] | None = None) -> None:
    rng = np.random.default_rng(seed)
    (root / split / "images").mkdir(parents=True, exist_ok=True)
    (root / split / "labels").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, boxes = draw_scene(rng)
        cv2.imwrite(str(root / split / "images" / f"img{i}.jpg"), img)
        text = "".join(f"{c} {x:.4f} {y:.4f} {w:.4f} {h:.4f}\n" for c, x, y, w, h in boxes)
        text += (extra_lines or {}).get(i, "")
        (root / split / "labels" / f"img{i}.txt").write_text(text)


@pytest.fixture(scope="session")
def fire_like(tmp_path_factory) -> Path:
    """A YOLO dataset with classes Fire(0), default(1), smoke(2) and a data.yaml."""
    root = tmp_path_factory.mktemp("fire-like")
    write_yolo_split(root, "train", 12, seed=1)
    write_yolo_split(root, "valid", 6, seed=2)
    doc = {"path": str(root), "train": "train/images", "val": "valid/images", "names": ["Fire", "default", "Smoke"]}
    (root / "data.yaml").write_text(yaml.safe_dump(doc))
    return root


def tiny_recipe(tmp: Path, dataset: Path, epochs: int):
    """A Recipe for a fresh YOLO11n (from yolo11n.yaml) on ``dataset`` at 64 px, no mosaic."""
    from models.train import Recipe

    from ultralytics import YOLO

    base = tmp / "base.pt"
    YOLO("yolo11n.yaml").save(str(base))
    data = tmp / "data.yaml"
    data.write_text(yaml.safe_dump({"path": str(dataset), "train": "train/images", "val": "valid/images",
                                    "names": ["fire", "nothing", "smoke"]}))
    return Recipe(data=data, base=base, run_dir=tmp / "run", epochs=epochs, imgsz=64, batch=4, close_mosaic=epochs)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, fire_like) -> Path:
    """A YOLO11n trained one epoch at 64 px on a 2-class set (fire, smoke): a real, small .pt."""
    from models.train import train

    recipe = tiny_recipe(tmp_path_factory.mktemp("tiny-model"), fire_like, epochs=1)
    train(recipe)
    return recipe.run_dir / "weights" / "last.pt"
