"""The model registry: names, paths, data: prefix, prebuilt matching, and adding a model as a small edit."""

import shutil

import pytest
import yaml

from gridsight.errors import UserError
from gridsight.paths import CONFIGS_DIR


@pytest.fixture()
def configs(tmp_path, monkeypatch):
    from gridsight.settings import get_settings

    d = tmp_path / "configs"
    d.mkdir()
    shutil.copy(CONFIGS_DIR / "models.yaml", d / "models.yaml")
    monkeypatch.setenv("GRIDSIGHT_CONFIGS", str(d))
    monkeypatch.setenv("GRIDSIGHT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GRIDSIGHT_DATA", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield d
    get_settings.cache_clear()


def test_shipped_registry_parses_and_names_its_default(configs, tmp_path):
    from models.registry import load_registry

    default, entries = load_registry()
    assert default == "gridsight" and entries[default].weights.name == "gridsight-yolo11n.pt"
    coco = entries["coco"]
    assert len(coco.classes) == 80 and coco.classes[5] == "bus"
    assert coco.weights == tmp_path / "data" / "weights" / "coco-yolo11n-rebuilt.pt"  # data: prefix
    assert coco.precision == {"openvino": "auto"}
    assert [(a.backend, a.precision, a.imgsz, a.batch) for a in coco.prebuilt] == [("openvino", "int8", 640, 1)]


def test_adding_a_model_and_making_it_default_is_one_small_edit(configs, tiny_pt, tmp_path):
    from models.detector import load_detector
    from models.registry import resolve_model

    doc = yaml.safe_load((configs / "models.yaml").read_text())
    doc["models"]["gridsight"] = {"weights": str(tiny_pt), "imgsz": 64, "classes": [str(i) for i in range(80)]}
    doc["default"] = "gridsight"
    (configs / "models.yaml").write_text(yaml.safe_dump(doc))
    assert resolve_model(None).name == "gridsight"
    det = load_detector(backend="torch", device="cpu")
    assert det.imgsz == 64 and det.source == str(tiny_pt)


def test_unknown_names_bad_paths_and_bad_entries_are_user_errors(configs, tmp_path):
    from models.registry import load_registry, resolve_model

    with pytest.raises(UserError, match="unknown model 'nope'"):
        resolve_model("nope")
    (tmp_path / "weird.bin").write_bytes(b"x")
    with pytest.raises(UserError, match="not a model"):
        resolve_model(tmp_path / "weird.bin")
    with pytest.raises(UserError, match="no weights or prebuilt artefact"):
        resolve_model("coco")  # GRIDSIGHT_DATA points at an empty folder here
    (configs / "models.yaml").write_text("default: x\nmodels:\n  x: {weights: a.pt, precision: {openvino: int4}}\n")
    with pytest.raises(UserError, match="precision openvino: int4"):
        load_registry()


def test_openvino_folder_path_reads_its_metadata(configs, tmp_path):
    from models.registry import resolve_model

    d = tmp_path / "m_int8_openvino_model"
    d.mkdir()
    (d / "m.xml").write_text("<net/>")
    (d / "metadata.yaml").write_text(yaml.safe_dump({"imgsz": [320, 320], "batch": 1, "args": {"int8": True},
                                                     "names": {0: "fire", 1: "smoke"}}))
    e = resolve_model(d)
    assert e.classes == ("fire", "smoke") and e.imgsz == 320
    assert e.find_prebuilt("openvino", "int8", 320, 4).path == d


def test_calibration_set_is_local_frames(configs, tmp_path):
    from ultralytics.data.utils import check_det_dataset

    from models.calibration import calibration_yaml

    data = calibration_yaml({0: "a", 1: "b"}, count=6, root=tmp_path / "calib")
    ds = check_det_dataset(str(data))  # what the int8 exporter reads; nothing to download
    images = sorted((tmp_path / "calib" / "images").glob("*.jpg"))
    assert len(images) >= 6 and ds["names"] == {0: "a", 1: "b"} and ds["nc"] == 2


def test_operating_points_are_read_per_model_and_checked(configs):
    """A model's ``operating_points`` reach the rules as a plain mapping; a bad one is a user error."""
    from models.registry import load_registry, operating_points

    doc = yaml.safe_load((configs / "models.yaml").read_text())
    doc["models"]["gridsight"]["operating_points"] = {"smoke": 0.55, "fire": 0.4}
    (configs / "models.yaml").write_text(yaml.safe_dump(doc))
    assert operating_points() == operating_points("gridsight") == {"smoke": 0.55, "fire": 0.4}
    assert operating_points("coco") == {} and operating_points("/some/model.pt") == {}
    doc["models"]["gridsight"]["operating_points"] = {"smoke": 1.5}
    (configs / "models.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(UserError, match="operating_points"):
        load_registry()
