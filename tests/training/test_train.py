"""`gridsight train` on a tiny generated set at 64 px: runs, stops, resumes, ships a small file."""

from __future__ import annotations

import pytest
import torch
from gridsight.cli import main
from gridsight.errors import UserError
from models.train import cpu_threads, last_checkpoint, ship, train
from tests.training.conftest import tiny_recipe


class Interrupted(Exception):
    pass


def test_train_interrupted_then_resumed_with_a_new_plan(tmp_path, fire_like):
    from ultralytics import YOLO

    recipe = tiny_recipe(tmp_path, fire_like, epochs=3)
    recipe.save_period = 1  # every epoch's weights kept too, for ship-weights averaging
    run = recipe.run_dir

    threads = []

    def stop_after_first_epoch(trainer):
        threads.append(torch.get_num_threads())
        if trainer.epoch == 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(recipe, callbacks={"on_fit_epoch_end": stop_after_first_epoch})
    # ultralytics' select_device leaves torch one core short (for dataloader workers we do not use)
    assert threads == [cpu_threads()]
    ckpt = torch.load(last_checkpoint(run), map_location="cpu", weights_only=False)
    assert ckpt["epoch"] == 0 and ckpt["optimizer"] is not None
    with pytest.raises(UserError, match="already holds a run"):
        train(recipe)  # a second fresh run must not overwrite the first

    with pytest.raises(UserError, match="finished 1 epochs"):
        train(recipe, resume=True, resume_epochs=1)
    train(recipe, resume=True, resume_epochs=2)  # re-planned: 2 epochs in all instead of 3
    rows = (run / "results.csv").read_text().strip().splitlines()
    assert len(rows) == 3  # header + epochs 1 and 2
    assert sorted(p.name for p in (run / "weights").glob("epoch*.pt")) == ["epoch0.pt", "epoch1.pt"]
    assert YOLO(str(last_checkpoint(run))).names == {0: "fire", 1: "nothing", 2: "smoke"}
    with pytest.raises(UserError, match="finished run: nothing to resume"):
        train(recipe, resume=True, resume_epochs=4)  # a finished run's checkpoint is stripped: refuse it

    shipped = ship(last_checkpoint(run), tmp_path / "ship" / "model.pt")
    raw = torch.load(shipped, map_location="cpu", weights_only=False)
    assert raw["optimizer"] is None
    assert YOLO(str(shipped)).names[2] == "smoke"


def test_resume_without_a_run_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--resume", "--run-dir", str(tmp_path / "none")]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_train_with_missing_dataset_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "missing.yaml"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "dataset yaml not found" in capsys.readouterr().err


def test_ship_blends_two_weights_of_the_same_model(tmp_path, fire_like, tiny_model):
    from ultralytics import YOLO

    recipe = tiny_recipe(tmp_path, fire_like, epochs=1)
    with pytest.raises(UserError, match="same architecture and classes"):
        ship(tiny_model, tmp_path / "x.pt", blend=recipe.base, alpha=0.5)  # 80 COCO classes
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "x.pt.partial").exists()
    start = ship(tiny_model, tmp_path / "start.pt")
    raw = torch.load(start, map_location="cpu", weights_only=False)
    for p in raw["model"].parameters():
        p.data.zero_()
    torch.save(raw, start)  # the same model with every weight 0
    mixed = ship(tiny_model, tmp_path / "mixed.pt", blend=start, alpha=0.25)
    a = torch.load(mixed, map_location="cpu", weights_only=False)["model"].float().state_dict()
    b = torch.load(tiny_model, map_location="cpu", weights_only=False)["model"].float().state_dict()
    key = next(k for k, v in b.items() if v.dtype.is_floating_point and v.abs().sum() > 0 and "weight" in k)
    assert torch.allclose(a[key], 0.25 * b[key], atol=1e-3)
    assert YOLO(str(mixed)).names == YOLO(str(tiny_model)).names
    assert main(["ship-weights", str(tiny_model), "--out", str(tmp_path / "y.pt"), "--alpha", "0.5"]) == 2


def test_ship_blends_only_the_layers_named_even_with_a_model_of_other_classes(tmp_path, tiny_model, capsys):
    from ultralytics import YOLO

    coco = tmp_path / "coco.pt"  # 80 classes: same backbone and neck shapes, another head
    YOLO("yolo11n.yaml").save(str(coco))
    out = tmp_path / "mixed.pt"
    assert main(["ship-weights", str(tiny_model), "--blend", str(coco), "--alpha", "0.25", "--layers", "0-10",
                 "--out", str(out)]) == 0
    got = torch.load(out, map_location="cpu", weights_only=False)
    mixed = got["model"].float().state_dict()
    raw = torch.load(tiny_model, map_location="cpu", weights_only=False)
    mine = (raw["ema"] or raw["model"]).float().state_dict()
    other = torch.load(coco, map_location="cpu", weights_only=False)["model"].float().state_dict()
    for k, v in mixed.items():
        if not v.dtype.is_floating_point:
            continue
        want = 0.25 * mine[k] + 0.75 * other[k] if int(k.split(".")[1]) <= 10 else mine[k]
        assert torch.allclose(v, want, atol=2e-2), k
    assert got["train_args"]["blend_layers"] == "0-10"
    assert YOLO(str(out)).names == YOLO(str(tiny_model)).names
    # the head's class rows are another model's: refused, and a bad range is a one-line error
    for layers, msg in (("0-23", "not the same architecture in layers 0-23"), ("40-41", "has layers 0-23"),
                        ("10-2", "expected layer numbers and ranges")):
        assert main(["ship-weights", str(tiny_model), "--blend", str(coco), "--layers", layers,
                     "--out", str(tmp_path / "bad.pt")]) == 2
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists() and not (tmp_path / "bad.pt.partial").exists()


def test_ship_averages_several_checkpoints(tmp_path, tiny_model, capsys):
    from ultralytics import YOLO

    ones = ship(tiny_model, tmp_path / "a.pt")
    raw = torch.load(ones, map_location="cpu", weights_only=False)
    for p in raw["model"].parameters():
        p.data.fill_(1.0)
    torch.save(raw, ones)
    threes = tmp_path / "b.pt"
    for p in raw["model"].parameters():
        p.data.fill_(3.0)
    torch.save(raw, threes)
    assert main(["ship-weights", str(ones), str(threes), str(threes), "--out", str(tmp_path / "soup.pt")]) == 0
    soup = YOLO(str(tmp_path / "soup.pt")).model
    assert all(torch.allclose(p.float(), torch.full_like(p.float(), 7 / 3), atol=1e-2) for p in soup.parameters())
    # and then blended: 0.5 x soup + 0.5 x ones
    ship([ones, threes], tmp_path / "mixed.pt", blend=ones, alpha=0.5)
    mixed = torch.load(tmp_path / "mixed.pt", map_location="cpu", weights_only=False)
    assert all(torch.allclose(p.float(), torch.full_like(p.float(), 1.5), atol=1e-2) for p in mixed["model"].parameters())
    assert mixed["train_args"]["averaged"] == [str(ones), str(threes)]
    # a checkpoint of another model is refused; nothing is written
    coco = tmp_path / "coco.pt"
    YOLO("yolo11n.yaml").save(str(coco))
    assert main(["ship-weights", str(ones), str(coco), "--out", str(tmp_path / "bad.pt")]) == 2
    assert "not the same architecture and classes" in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists() and not (tmp_path / "bad.pt.partial").exists()
    text = tmp_path / "notes.txt"
    text.write_text("# not weights\n")
    assert main(["ship-weights", str(text), str(ones), "--out", str(tmp_path / "bad.pt")]) == 2
    assert "notes.txt: not an ultralytics checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "bad.pt").exists() and not (tmp_path / "bad.pt.partial").exists()
