"""Operating points: chosen from a precision-recall curve, recorded with the model in the
registry, and not overridden by configs/issues.yaml for the classes that have one."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml

from gridsight.errors import UserError
from gridsight.paths import CONFIGS_DIR
from models.operating_points import Curve, choose, curves

ISSUE_CLASSES = ("fire", "smoke", "garbage", "garbage_bin", "overflow", "water")


def test_choose_takes_the_highest_recall_that_keeps_the_precision():
    # scores best first: right, right, wrong, right, wrong, wrong; 5 labelled boxes
    curve = Curve.from_matches([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [1, 1, 0, 1, 0, 0], labelled=5)
    assert choose(curve, 0.75).threshold == 0.6  # 3 of 4 right at 0.6: recall 0.6
    assert choose(curve, 0.75).recall == pytest.approx(0.6)
    assert choose(curve, 0.9).threshold == 0.8  # 2 of 2 right
    assert choose(Curve.from_matches([0.9], [0], labelled=3), 0.5).threshold is None  # never reached
    assert choose(Curve.from_matches([], [], labelled=0), 0.5).threshold is None
    # equal scores are kept or dropped together: 0.5 holds a right and a wrong box
    tied = Curve.from_matches([0.9, 0.5, 0.5], [1, 1, 0], labelled=2)
    assert choose(tied, 0.8).threshold == 0.9
    assert tied.at(0.5)[:2] == pytest.approx((2 / 3, 1.0))


def test_curves_match_boxes_at_iou_half_and_count_boxes_on_empty_images_as_wrong(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n0 0.2 0.2 0.1 0.1\n")
    preds = {
        str(tmp_path / "images" / "a.jpg"): np.array([
            [0, 0.5, 0.5, 0.2, 0.2, 0.9],  # on the first box
            [0, 0.51, 0.5, 0.2, 0.2, 0.8],  # a duplicate of it: wrong
            [0, 0.8, 0.8, 0.1, 0.1, 0.7],  # nowhere: wrong
        ], np.float32),
        str(tmp_path / "images" / "b.jpg"): np.array([[0, 0.5, 0.5, 0.3, 0.3, 0.6]], np.float32),  # no labels
    }
    c = curves(preds, {"fire": 0})["fire"]
    assert c.labelled == 2
    assert c.scores.tolist() == pytest.approx([0.9, 0.8, 0.7, 0.6])
    assert c.right.tolist() == [True, False, False, False]


def test_the_shipped_model_carries_operating_points_for_its_issue_classes():
    from models.registry import load_registry

    default, entries = load_registry(CONFIGS_DIR / "models.yaml")
    points = entries[default].operating_points
    assert set(ISSUE_CLASSES) <= set(points), points
    assert set(points) <= set(entries[default].classes)
    assert all(0 < v < 1 for v in points.values())


def test_issue_rules_leave_the_threshold_to_the_model_where_it_has_a_point():
    """configs/issues.yaml sets no min_score for the issue classes' rules (fire, smoke, water,
    garbage: the data-chosen points apply), and where a rule whose classes all have a point keeps
    its own, the file says why."""
    from models.registry import load_registry

    default, entries = load_registry(CONFIGS_DIR / "models.yaml")
    points = entries[default].operating_points
    text = (CONFIGS_DIR / "issues.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    for name, spec in doc["issue_types"].items():
        rule = spec["rule"]
        if set(rule["classes"]) & set(ISSUE_CLASSES):
            assert "min_score" not in rule, f"{name} overrides the model's operating points"
        elif all(c in points for c in rule["classes"]) and "min_score" in rule:
            assert f"{name}: min_score kept" in text, f"{name}: a kept min_score needs its reason in the file"


@pytest.mark.parametrize("points", [{"fire": 1.5}, {"fire": "high"}, {"dragon": 0.4}, [0.4]])
def test_bad_operating_points_are_refused_by_name(tmp_path, points):
    from models.registry import load_registry

    shutil.copy(CONFIGS_DIR / "models.yaml", tmp_path / "models.yaml")
    doc = yaml.safe_load((tmp_path / "models.yaml").read_text())
    doc["models"]["gridsight"]["operating_points"] = points
    (tmp_path / "models.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(UserError, match="operating.point"):
        load_registry(tmp_path / "models.yaml")


def test_write_points_keeps_the_file_and_replaces_the_line(tmp_path):
    from bench.operating_points import write_points
    from models.registry import load_registry

    path = tmp_path / "models.yaml"
    shutil.copy(CONFIGS_DIR / "models.yaml", path)
    write_points(path, "gridsight", {"fire": 0.4, "dining table": 0.5})
    write_points(path, "gridsight", {"fire": 0.45, "dining table": 0.5})
    text = path.read_text()
    assert text.count("operating_points:") == 1 + text.count("#   operating_points") + text.count("# operating_points")
    assert text.startswith("# Model registry")  # comments kept
    _, entries = load_registry(path)
    assert entries["gridsight"].operating_points == {"fire": 0.45, "dining table": 0.5}
    assert entries["coco"].operating_points == {}
