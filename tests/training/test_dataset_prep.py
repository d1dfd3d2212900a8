"""`gridsight dataset prepare` on a tiny generated data folder: remapping, masks -> boxes, splits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from gridsight.cli import main
from gridsight.errors import UserError
from models.dataset_prep import (is_holdout, load_manifest, mask_to_boxes, prepare, read_yolo_labels,
                                 remap_labels, sample_indices)
from tests.training.conftest import write_yolo_split


def test_mask_to_boxes_one_box_per_component_and_drops_speckle():
    mask = np.zeros((100, 200), np.uint8)
    mask[10:30, 20:60] = 255  # component 1: x 20..59, y 10..29
    mask[50:100, 100:200] = 200  # component 2 touches the corner
    mask[0:2, 190:192] = 255  # 4 px speckle: below 0.5% of 20,000 px
    mask[80:90, 0:10] = 100  # below the threshold: not water
    boxes = mask_to_boxes(mask, threshold=128, min_area_frac=0.005)
    assert boxes.shape == (2, 4)
    got = sorted(map(tuple, np.round(boxes, 4)))
    assert got[0] == pytest.approx((40 / 200, 20 / 100, 40 / 200, 20 / 100))
    assert got[1] == pytest.approx((150 / 200, 75 / 100, 100 / 200, 50 / 100))


def test_remap_labels_maps_by_table_and_drops_unmapped():
    boxes = np.array([[0, .5, .5, .1, .1], [1, .5, .5, 1, 1], [2, .2, .2, .1, .1]], np.float32)
    out = remap_labels(boxes, {0: 10, 1: None, 2: 11})
    assert out[:, 0].tolist() == [10, 11]
    assert out[1, 1:].tolist() == pytest.approx([.2, .2, .1, .1])


def test_polygon_labels_become_boxes(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("3 0.1 0.2 0.5 0.2 0.5 0.6 0.1 0.6\n")
    assert read_yolo_labels(p).tolist()[0] == pytest.approx([3, 0.3, 0.4, 0.4, 0.4])


def test_holdout_split_is_deterministic_and_near_the_fraction():
    names = [f"{i}.jpg" for i in range(2000)]
    first = [is_holdout(n, 0.15) for n in names]
    assert first == [is_holdout(n, 0.15) for n in reversed(names)][::-1]
    assert 0.12 < sum(first) / len(first) < 0.18
    assert sample_indices(0, 10, 5) == [0, 2, 4, 6, 8]
    assert sample_indices(5, 5, 3) == []


def make_data_dir(root: Path) -> None:
    # a fire-smoke-like YOLO source; image 0 of train gets only a `default` box
    write_yolo_split(root / "fire", "train", 5, seed=3)
    (root / "fire" / "train" / "labels" / "img0.txt").write_text("1 0.5 0.5 0.99 0.99\n")
    write_yolo_split(root / "fire", "valid", 3, seed=4, extra_lines={0: "1 0.5 0.5 0.9 0.9\n"})
    # a water-like mask source
    (root / "water" / "images").mkdir(parents=True)
    (root / "water" / "masks").mkdir(parents=True)
    for i in range(20):
        cv2.imwrite(str(root / "water" / "images" / f"{i}.jpg"), np.full((60, 80, 3), 90, np.uint8))
        mask = np.zeros((60, 80), np.uint8)
        mask[30:60, 0:40] = 255
        cv2.imwrite(str(root / "water" / "masks" / f"{i}.png"), mask)
    # a 40-frame clip
    (root / "clips").mkdir()
    writer = cv2.VideoWriter(str(root / "clips" / "street.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(40):
        writer.write(np.full((48, 64, 3), i * 5, np.uint8))
    writer.release()


MANIFEST = {
    "name": "tiny",
    "classes": [{"name": "person", "zh": "行人", "coco": 0}, {"name": "bus", "zh": "公交车", "coco": 5},
                {"name": "fire", "zh": "火焰"}, {"name": "smoke", "zh": "烟雾"}, {"name": "water", "zh": "积水"}],
    "sources": [
        {"name": "fire-smoke", "kind": "yolo", "path": "fire", "splits": {"train": "train", "val": "valid"},
         "classes": {"Fire": "fire", "default": None, "smoke": "smoke"}, "class_ids": ["Fire", "default", "smoke"],
         "only_dropped": "drop"},
        {"name": "water", "kind": "masks", "path": "water", "class": "water", "val_fraction": 0.3},
        {"name": "street", "kind": "video", "videos": [{"path": "clips/street.avi", "train": 6, "holdout": 4}],
         "train_until": 0.7, "holdout_from": 0.75},
    ],
}


@pytest.fixture()
def prepared(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data)
    manifest_path = tmp_path / "tiny.yaml"
    manifest_path.write_text(yaml.safe_dump(MANIFEST, allow_unicode=True))
    out = tmp_path / "out"
    report = prepare(load_manifest(manifest_path), data, out, teacher=None, progress=False)
    return out, report, manifest_path, data


def test_images_with_only_dropped_labels_become_held_out_negatives(tmp_path):
    """`only_dropped: negatives`: ordinary scenes (only `default` boxes) are kept without labels,
    as their own source, and a share of them is held out whole scene by whole scene."""
    import copy
    import shutil

    data = tmp_path / "data"
    make_data_dir(data)
    train = data / "fire" / "train"
    for n in range(100, 200, 5):  # 20 frames, two per scene (img_100/img_105, img_110/img_115, ...)
        shutil.copy(train / "images" / "img1.jpg", train / "images" / f"img_{n}.jpg")
        (train / "labels" / f"img_{n}.txt").write_text("1 0.5 0.5 0.99 0.99\n")
    manifest = copy.deepcopy(MANIFEST)
    fire = manifest["sources"][0]
    fire.update(only_dropped="negatives", negatives_val_fraction=0.4)
    path = tmp_path / "neg.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    out = tmp_path / "out"
    report = prepare(load_manifest(path), data, out, teacher=None, progress=False)

    split = report["splits"]
    assert split["train"]["by_source"]["fire-smoke"] == 4 and split["val"]["by_source"]["fire-smoke"] == 3
    held = Path(report["yamls"]["val-fire-smoke-negatives"]).read_text()
    held = Path(yaml.safe_load(held)["val"]).read_text().split()
    trained = Path(report["yamls"]["train-fire-smoke-negatives"]).read_text().split()
    assert len(held) + len(trained) == 21 and held and trained  # img0 and the 20 scenes, none lost
    scene = {Path(x).name.removeprefix("fire-smoke-negatives__")[:-5] for x in held}  # img_10 from img_105.jpg
    assert not [x for x in trained if Path(x).name.removeprefix("fire-smoke-negatives__")[:-5] in scene]
    for x in held + trained:  # no boxes: the `default` ones are dropped, nothing else was there
        split_dir = "val" if x in held else "train"
        assert read_yolo_labels(out / "labels" / split_dir / (Path(x).stem + ".txt")).size == 0

    fire["only_dropped"] = "ignore"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    with pytest.raises(UserError, match="only_dropped must be one of keep, drop, negatives"):
        prepare(load_manifest(path), data, tmp_path / "out2", teacher=None, progress=False)


def test_prepare_remaps_drops_and_splits(prepared):
    out, report, _, _ = prepared
    splits = report["splits"]
    # train image 0 had only a `default` box: dropped; the others kept
    assert splits["train"]["by_source"]["fire-smoke"] == 4
    assert splits["val"]["by_source"]["fire-smoke"] == 3
    assert splits["train"]["by_source"]["water"] + splits["val"]["by_source"]["water"] == 20
    assert splits["val"]["by_source"]["water"] > 0
    assert splits["train"]["by_source"]["street"] == 6 and splits["retention"]["by_source"]["street"] == 4
    # Fire (0) -> fire (2), smoke (2) -> smoke (3), default dropped even in a kept image
    lbl = read_yolo_labels(out / "labels" / "val" / "fire-smoke__img0.txt")
    assert sorted(lbl[:, 0].astype(int).tolist()) == [2, 3]
    # one water box from the mask's lower-left quarter
    water = next((out / "labels" / "train").glob("water__*.txt"))
    assert read_yolo_labels(water).tolist() == [pytest.approx([4, 0.25, 0.75, 0.5, 0.5])]
    # retention frames come from the end of the clip, train frames from its start
    ret = sorted(int(p.stem.rsplit("_", 1)[1]) for p in (out / "images" / "retention").iterdir())
    tr = sorted(int(p.stem.rsplit("_", 1)[1]) for p in (out / "images" / "train").glob("street__*"))
    assert min(ret) >= 30 and max(tr) < 28
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "person", 1: "bus", 2: "fire", 3: "smoke", 4: "water"}
    assert set(report["yamls"]) == {"train", "val-fire-smoke", "val-water", "retention",
                                    "train-fire-smoke", "train-water", "train-street"}
    fire_list = Path(report["yamls"]["train-fire-smoke"]).read_text().split()
    assert len(fire_list) == 4 and all(Path(x).name.startswith("fire-smoke__") and Path(x).is_file() for x in fire_list)
    val_list = yaml.safe_load((out / "val-water.yaml").read_text())["val"]
    assert all("water__" in line for line in Path(val_list).read_text().split())
    assert [c["zh"] for c in report["classes"]] == ["行人", "公交车", "火焰", "烟雾", "积水"]


def test_teacher_boxes_are_added_for_manifest_coco_classes_only(tmp_path):
    data = tmp_path / "data"
    make_data_dir(data)
    manifest_path = tmp_path / "tiny.yaml"
    manifest_path.write_text(yaml.safe_dump(MANIFEST, allow_unicode=True))
    seen = []

    def teacher(paths):  # COCO ids: 5 bus (kept, -> our 1), 16 dog (not in the manifest: dropped)
        seen.extend(paths)
        return [np.array([[5, .5, .5, .2, .2, .9], [16, .3, .3, .1, .1, .8]], np.float32) for _ in paths]

    out = tmp_path / "out"
    report = prepare(load_manifest(manifest_path), data, out, teacher=teacher, progress=False)
    total = sum(s["images"] for s in report["splits"].values())
    assert len(seen) == total  # every image of every split
    assert report["teacher_boxes"] == {"bus": total}
    lbl = read_yolo_labels(out / "labels" / "retention" / next((out / "labels" / "retention").iterdir()).name)
    assert lbl.tolist() == [pytest.approx([1, .5, .5, .2, .2])]


def test_prepare_refuses_a_folder_that_is_not_a_prepared_set(prepared, tmp_path):
    _, _, manifest_path, data = prepared
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("mine")
    with pytest.raises(UserError, match="not a prepared dataset"):
        prepare(load_manifest(manifest_path), data, precious, progress=False)
    assert (precious / "keep.txt").read_text() == "mine"


def test_cli_prepare_bad_manifest_is_one_line(tmp_path, capsys):
    assert main(["dataset", "prepare", str(tmp_path / "nope.yaml"), "--no-teacher"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "manifest not found" in err[0]


def test_shipped_manifest_names_every_class_in_english_and_chinese():
    from gridsight.paths import REPO_ROOT

    m = load_manifest(REPO_ROOT / "datasets" / "gridsight-issues.yaml")
    assert m.names[-6:] == ["fire", "smoke", "garbage", "garbage_bin", "overflow", "water"]
    assert all(c.zh and c.zh != c.name for c in m.classes)
    assert {m.names[i] for i in m.coco_to_ours.values()} >= {"person", "car", "bus", "truck", "motorcycle", "bicycle"}


def test_repeat_shows_a_source_n_times_per_epoch_to_the_trainer(prepared, tmp_path):
    from models.review_export import combine
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out, report, _, _ = prepared
    dest = combine(out / "data.yaml", [], tmp_path / "run.data.yaml", {"fire-smoke": 3})
    data = check_det_dataset(str(dest))
    ds = YOLODataset(img_path=data["train"], data=data, imgsz=64, augment=False)
    names = [Path(f).name for f in ds.im_files]
    by_source = {s: sum(n.startswith(s + "__") for n in names) for s in ("fire-smoke", "water", "street")}
    train = report["splits"]["train"]["by_source"]
    assert by_source == {"fire-smoke": 3 * train["fire-smoke"], "water": train["water"], "street": train["street"]}
    assert len(ds.labels) == len(names)  # every repeat carries its labels


def test_repeat_of_an_unknown_source_or_bad_count_is_a_clear_error(prepared, tmp_path, capsys):
    from models.review_export import combine

    out, _, _, _ = prepared
    with pytest.raises(UserError, match="sources: fire-smoke, street, water"):
        combine(out / "data.yaml", [], tmp_path / "x.yaml", {"garbage": 2})
    with pytest.raises(UserError, match="1 or more"):
        combine(out / "data.yaml", [], tmp_path / "x.yaml", {"water": 0})
    assert main(["train", "--data", str(out / "data.yaml"), "--repeat", "fire-smoke:3",
                 "--run-dir", str(tmp_path / "r")]) == 2
    assert "expected SOURCE=N" in capsys.readouterr().err


def test_repeat_class_shows_every_image_with_that_class_n_times(prepared, tmp_path):
    from models.review_export import combine
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    out, report, _, _ = prepared
    labels = sorted((out / "labels" / "train").glob("water__*.txt"))[:2]
    for lbl in labels:  # two water photos now also show a bus (class 1)
        lbl.write_text(lbl.read_text() + "1 0.5 0.5 0.2 0.2\n")
    dest = combine(out / "data.yaml", [], tmp_path / "run.data.yaml", {"fire-smoke": 2}, {"bus": 4})
    data = check_det_dataset(str(dest))
    ds = YOLODataset(img_path=data["train"], data=data, imgsz=64, augment=False)
    seen = [Path(f).stem for f in ds.im_files]
    assert {lbl.stem: seen.count(lbl.stem) for lbl in labels} == {lbl.stem: 4 for lbl in labels}
    train = report["splits"]["train"]["by_source"]
    assert len(seen) == sum(train.values()) + train["fire-smoke"] + 3 * len(labels)
    assert len(ds.labels) == len(seen)


def test_repeat_class_errors_are_clear(prepared, tmp_path, capsys):
    from models.review_export import combine

    out, _, _, _ = prepared
    with pytest.raises(UserError, match="no such class.*person, bus, fire, smoke, water"):
        combine(out / "data.yaml", [], tmp_path / "x.yaml", None, {"lorry": 2})
    with pytest.raises(UserError, match="no training image .* has a bus box"):
        combine(out / "data.yaml", [], tmp_path / "x.yaml", None, {"bus": 2})
    with pytest.raises(UserError, match="1 or more"):
        combine(out / "data.yaml", [], tmp_path / "x.yaml", None, {"fire": 0})
    assert main(["train", "--data", str(out / "data.yaml"), "--repeat-class", "bus",
                 "--run-dir", str(tmp_path / "r")]) == 2
    assert "expected CLASS=N" in capsys.readouterr().err


def test_a_stopped_run_trains_on_with_a_new_mix(prepared, tmp_path):
    """`train --resume --repeat ...`: the remaining epochs see the new mix, the schedule goes on."""
    import torch
    from ultralytics import YOLO
    from ultralytics.data.utils import load_dataset_cache_file

    from models.review_export import combine
    from models.train import Recipe, last_checkpoint, train

    out, report, _, _ = prepared
    base = tmp_path / "base.pt"
    YOLO("yolo11n.yaml").save(str(base))
    run = tmp_path / "run"
    data = combine(out / "data.yaml", [], run.with_suffix(".data.yaml"))

    class Stop(Exception):
        pass

    def stop(trainer):
        raise Stop

    with pytest.raises(Stop):
        train(Recipe(data=data, base=base, run_dir=run, epochs=2, imgsz=64, batch=4, close_mosaic=2, val=False),
              callbacks={"on_fit_epoch_end": stop})
    assert main(["train", "--resume", "--run-dir", str(run), "--data", str(out / "data.yaml"),
                 "--repeat", "fire-smoke=3", "--epochs", "3"]) == 0
    seen = [Path(x["im_file"]).name for x in load_dataset_cache_file(out / "labels" / "train.cache")["labels"]]
    assert sum(n.startswith("fire-smoke__") for n in seen) == 3 * report["splits"]["train"]["by_source"]["fire-smoke"]
    rows = (run / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 3  # epoch 1 before the stop, epochs 2 and 3 after it
    assert torch.load(last_checkpoint(run), map_location="cpu", weights_only=False)["train_args"]["data"] == \
        str(run.with_suffix(".data.yaml").resolve())


def test_untouched_test_split_takes_whole_clips_and_scenes(tmp_path):
    """`test_scenes` moves whole clips of the validation split to the test split, `test_fraction`
    whole scenes (by hash), `negatives_test_fraction` held-out negatives: no scene on both sides,
    nothing lost, nothing taken from training, and a test-<source> list per source."""
    import copy
    import shutil

    data = tmp_path / "data"
    make_data_dir(data)
    valid = data / "fire" / "valid"
    for clip in ("fire2_mp4", "smoke1_mp4"):  # two clips of three frames each
        for n in (3, 7, 9):
            shutil.copy(valid / "images" / "img1.jpg", valid / "images" / f"{clip}-{n}_jpg.jpg")
            shutil.copy(valid / "labels" / "img1.txt", valid / "labels" / f"{clip}-{n}_jpg.txt")
    manifest = copy.deepcopy(MANIFEST)
    manifest["sources"][0]["test_scenes"] = ["fire2_mp4"]
    manifest["sources"][1].update(val_fraction=0.7, test_fraction=0.6)  # scene 1 (10-19.jpg) to test
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump(manifest, allow_unicode=True))
    out = tmp_path / "out"
    report = prepare(load_manifest(path), data, out, teacher=None, progress=False)

    def listed(key: str) -> list[str]:
        return [Path(x).name for x in Path(yaml.safe_load(Path(report["yamls"][key]).read_text())["val"]).read_text().split()]

    test_fire, val_fire = listed("test-fire-smoke"), listed("val-fire-smoke")
    assert sorted(test_fire) == [f"fire-smoke__fire2_mp4-{n}_jpg.jpg" for n in (3, 7, 9)]
    assert not [x for x in val_fire if "fire2_mp4" in x] and len(val_fire) == 3 + 3  # img0-2 and smoke1's frames
    assert report["splits"]["train"]["by_source"]["fire-smoke"] == 4  # training untouched
    water_test, water_val = listed("test-water"), listed("val-water")
    assert water_test and water_val and not set(water_test) & set(water_val)
    assert all(len(x) == len("water__10.jpg") for x in water_test) and all(len(x) == len("water__1.jpg") for x in water_val)
    assert report["splits"]["train"]["by_source"]["water"] + len(water_val) + len(water_test) == 20
    assert all((out / "labels" / "test" / (Path(x).stem + ".txt")).is_file() for x in test_fire + water_test)
    data_yaml = yaml.safe_load((out / "data.yaml").read_text())
    assert data_yaml["val"] == "images/val" and not list((out / "images" / "val").glob("*fire2_mp4*"))
