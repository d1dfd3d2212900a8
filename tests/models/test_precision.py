"""``auto`` precision chooses by measuring (models/precision.py): the slower candidate is not picked,
the choice is cached per CPU, model, backend and image size, and an explicit precision skips it all."""

from __future__ import annotations

import json
import logging

import pytest

from models import backends
from models.detector import load_detector
from tests.models import fake_backend


@pytest.fixture()
def fake(monkeypatch, isolated_home):
    monkeypatch.setattr(backends, "BACKENDS", (fake_backend.ROW, *backends.BACKENDS))
    fake_backend.loads.clear()
    yield fake_backend
    fake_backend.loads.clear()


def test_auto_precision_keeps_the_faster_and_caches_the_choice(tiny_pt, fake, monkeypatch, isolated_home, caplog):
    caplog.set_level(logging.INFO, "gridsight.models.precision")
    monkeypatch.setattr(fake, "SLOW", {"fp32"})
    det = load_detector(tiny_pt, backend="fake", device="cpu", imgsz=64, batch=2, precision="auto")
    assert det.precision == "int8" and sorted(fake.loads) == ["fp32", "int8"]  # both loaded and measured
    record, = json.loads((isolated_home / "cache" / "precision.json").read_text()).values()
    assert record["precision"] == "int8" and set(record["measured"]) == {"fp32", "int8"}
    said = [r.getMessage() for r in caplog.records if "auto precision: int8" in r.getMessage()]
    assert said and "fp32" in said[0] and "CPU ms" in said[0]  # what it chose and why

    # the second load reuses the measurement: nothing is timed again, though int8 is now the slow one
    monkeypatch.setattr(fake, "SLOW", {"int8"})
    fake.loads.clear()
    assert load_detector(tiny_pt, backend="fake", device="cpu", imgsz=64, batch=2, precision="auto").precision == "int8"
    assert fake.loads == ["int8"]

    # another image size is measured afresh, and now fp32 wins
    fake.loads.clear()
    assert load_detector(tiny_pt, backend="fake", device="cpu", imgsz=96, batch=2, precision="auto").precision == "fp32"
    assert sorted(fake.loads) == ["fp32", "int8"]
    assert len(json.loads((isolated_home / "cache" / "precision.json").read_text())) == 2


def test_explicit_precision_or_the_setting_skips_measuring(tiny_pt, fake, monkeypatch, isolated_home):
    from gridsight.settings import get_settings

    assert load_detector(tiny_pt, backend="fake", device="cpu", imgsz=64, precision="int8").precision == "int8"
    assert fake.loads == ["int8"]
    monkeypatch.setenv("GRIDSIGHT_PRECISION_CALIBRATION", "false")
    get_settings.cache_clear()
    fake.loads.clear()
    assert load_detector(tiny_pt, backend="fake", device="cpu", imgsz=64, precision="auto").precision == "fp32"
    assert fake.loads == ["fp32"]  # the CPU-flag rule's pick, nothing else loaded
    assert not (isolated_home / "cache" / "precision.json").exists()
