import json
import os
import subprocess
import sys

import numpy as np
import pytest

from gridsight.settings import Settings
from models.detections import Detections


def test_settings_read_env_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("GRIDSIGHT_IMGSZ", "320")
    monkeypatch.setenv("GRIDSIGHT_HOME", str(tmp_path))
    s = Settings()
    assert s.imgsz == 320
    assert s.sqlalchemy_url == f"sqlite:///{tmp_path / 'gridsight.db'}"


def test_offline_configuration_in_fresh_process(tmp_path):
    env = {**os.environ, "GRIDSIGHT_HOME": str(tmp_path)}
    env.pop("YOLO_CONFIG_DIR", None)
    code = ("import gridsight, os, json; from ultralytics.utils import is_online, SETTINGS, USER_CONFIG_DIR;"
            "print(json.dumps([is_online(), SETTINGS['sync'], str(USER_CONFIG_DIR), os.environ['YOLO_AUTOINSTALL']]))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    online, sync, cfg, autoinstall = json.loads(out.stdout.strip().splitlines()[-1])
    assert online is False and sync is False and autoinstall == "False"
    assert cfg == str(tmp_path / "ultralytics" / "Ultralytics")
    assert (tmp_path / "ultralytics" / "Ultralytics" / "Arial.ttf").exists()


def test_detections_select_and_serialise():
    d = Detections(np.array([[0, 0, 10, 10], [5, 5, 25, 45]], np.float32), np.array([0.3, 0.8], np.float32),
                   np.array([0, 2], np.int32), {0: "person", 2: "car"})
    cars = d.of_classes({"car"})
    assert cars.class_names == ["car"]
    assert cars.bottom_centers.tolist() == [[15.0, 45.0]]
    assert d[d.scores > 0.5].to_list()[0]["class_name"] == "car"
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4), np.float32), np.zeros(1, np.float32), np.zeros(2, np.int32))


def test_api_and_pipeline_never_import_each_other():
    """The two sides meet over HTTP, Redis and the shared core (gridsight/, models/), never by import."""
    import ast
    from pathlib import Path

    from gridsight.paths import REPO_ROOT

    forbidden = {"api": {"pipeline"}, "pipeline": {"api"}, "gridsight": {"api", "pipeline"}}
    found = []
    for side, banned in forbidden.items():
        for path in (REPO_ROOT / side).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
                found += [f"{path.relative_to(REPO_ROOT)}: {n}" for n in names if n.split(".")[0] in banned]
    assert not found, found


def test_upright_rectangle_zones_answer_as_the_polygon_test_does():
    """Zone.contains_points' shortcut for axis-aligned rectangles (whole frames, kerb strips) gives the
    general even-odd test's answer, edges and corners included; other shapes take the general test."""
    from gridsight.issues import Zone, points_in_polygon

    rng = np.random.default_rng(7)
    for _ in range(100):
        x1, x2 = sorted(rng.choice(50, 2, replace=False)); y1, y2 = sorted(rng.choice(50, 2, replace=False))
        corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
        for norm, shape in ((False, (60, 60)), (True, (480, 640))):
            z = Zone("z", "any", [(a / 50, b / 50) for a, b in corners] if norm else corners, norm)
            assert z._upright
            pts = np.vstack([z.points(shape), (rng.random((200, 2)) * 700 - 20), np.round(rng.random((50, 2)) * 60)])
            assert (z.contains_points(pts, shape) == points_in_polygon(z.points(shape), pts)).all()
    for odd in ([(0, 0), (10, 10), (10, 0), (0, 10)], [(0, 0), (10, 0), (5, 10)], [(0, 0), (10, 0), (10, 10), (0, 9)]):
        assert not Zone("odd", "any", odd)._upright
