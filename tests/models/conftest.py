"""Fixtures for the detector tests: tiny models built from yolo11n.yaml, never ../shared."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import gridsight  # noqa: F401  (offline before ultralytics)

BUS = Path(__import__("ultralytics").__file__).parent / "assets" / "bus.jpg"


@pytest.fixture(scope="session")
def tiny_pt(tmp_path_factory) -> Path:
    """An untrained YOLO11n (80 classes) saved as a .pt: real graph, random weights."""
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("weights") / "tiny-yolo11n.pt"
    YOLO("yolo11n.yaml").save(str(path))
    return path


@pytest.fixture(scope="session")
def bus_image() -> np.ndarray:
    return cv2.imread(str(BUS))


@pytest.fixture()
def isolated_home(tmp_path, monkeypatch):
    """GRIDSIGHT_HOME in tmp_path (fresh export cache) with settings re-read."""
    from gridsight.settings import get_settings

    monkeypatch.setenv("GRIDSIGHT_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()
