"""`gridsight eval`: classes matched by name, missing ones skipped, the JSON line's shape."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from gridsight.cli import main
from gridsight.errors import UserError
from models.evaluate import label_path, match_classes, read_dataset_yaml
from models.train import cpu_threads


def test_match_classes_case_insensitive_and_lists_missing():
    mapping, missing = match_classes({0: "Fire", 1: "default", 2: " SMOKE "}, {0: "person", 5: "smoke", 7: "fire"})
    assert mapping == {0: 7, 2: 5}
    assert missing == ["default"]


def test_match_classes_restricted_to_wanted_names():
    mapping, _ = match_classes({0: "fire", 1: "smoke"}, {0: "fire", 1: "smoke"}, wanted=["Smoke"])
    assert mapping == {1: 1}
    with pytest.raises(UserError, match="no class unicorn"):
        match_classes({0: "fire"}, {0: "fire"}, wanted=["unicorn"])


def test_read_dataset_yaml_relative_path_and_list_file(tmp_path):
    (tmp_path / "set" / "images" / "val").mkdir(parents=True)
    (tmp_path / "set" / "images" / "val" / "a.jpg").write_bytes(b"x")
    (tmp_path / "set" / "list.txt").write_text(str(tmp_path / "set" / "images" / "val" / "a.jpg") + "\n")
    (tmp_path / "d1.yaml").write_text(yaml.safe_dump({"path": "set", "val": "images/val", "names": ["a"]}))
    (tmp_path / "d2.yaml").write_text(yaml.safe_dump({"path": "set", "val": "list.txt", "names": {0: "a"}}))
    for y in ("d1.yaml", "d2.yaml"):
        names, images = read_dataset_yaml(tmp_path / y)
        assert names == {0: "a"} and [p.name for p in images] == ["a.jpg"]
    assert label_path(tmp_path / "set" / "images" / "val" / "a.jpg") == tmp_path / "set" / "labels" / "val" / "a.txt"


def test_eval_cli_table_and_json(fire_like, tiny_model, capsys):
    code = main(["eval", str(fire_like / "data.yaml"), "--model", str(tiny_model), "--imgsz", "64", "--json"])
    assert code == 0
    assert torch.get_num_threads() == cpu_threads()  # every core, not ultralytics' cpu_count - 1
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert set(result) == {"classes", "images"}
    assert result["images"] == 6
    assert set(result["classes"]) == {"fire", "smoke"}  # dataset's Fire/Smoke matched; `default` skipped
    for m in result["classes"].values():
        assert set(m) == {"map50", "map50_95", "precision", "recall"}
        assert all(0.0 <= v <= 1.0 for v in m.values())
    table = "\n".join(out[:-1])
    assert "skipped (model lacks): default" in table
    assert "images 6" in table and "mAP50-95" in table


def test_eval_cli_errors_are_one_line(fire_like, tiny_model, tmp_path, capsys):
    assert main(["eval", str(tmp_path / "none.yaml"), "--model", str(tiny_model)]) == 2
    assert main(["eval", str(fire_like / "data.yaml"), "--model", str(tiny_model), "--classes", "unicorn"]) == 2
    unrelated = tmp_path / "other.yaml"
    unrelated.write_text(yaml.safe_dump({"path": str(fire_like), "val": "valid/images", "names": ["cat", "dog"]}))
    assert main(["eval", str(unrelated), "--model", str(tiny_model)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3
    assert "not found" in err[0] and "unicorn" in err[1] and "no dataset class matches" in err[2]
