"""`gridsight detect`: real entry point, real files (generated here), one clear line per bad input."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from gridsight.cli import main
from tests.models.conftest import BUS


@pytest.fixture()
def inputs(tmp_path, bus_image):
    good = tmp_path / "in"
    good.mkdir()
    cv2.imwrite(str(good / "a.jpg"), bus_image)
    cv2.imwrite(str(good / "b.png"), bus_image[:200, :300])
    writer = cv2.VideoWriter(str(good / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(5):
        writer.write(np.full((120, 160, 3), 40 * i, np.uint8))
    writer.release()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "zero.jpg").write_bytes(b"")
    (bad / "text.jpg").write_text("not an image at all")
    (bad / "truncated.jpg").write_bytes(BUS.read_bytes()[:5000])
    (bad / "clip.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    return good, bad


def test_bad_inputs_one_line_each_rest_still_run(tiny_pt, inputs, tmp_path, capsys, isolated_home):
    good, bad = inputs
    code = main(["detect", str(tmp_path / "missing.jpg"), str(good), str(bad), "--json", "--model", str(tiny_pt),
                 "--backend", "torch", "--imgsz", "64", "--conf", "0.00001", "--save", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 1
    lines = [json.loads(x) for x in out.splitlines()]
    assert [(Path(d["source"]).name, d["frame"]) for d in lines] == [
        ("a.jpg", 0), ("b.png", 0), ("clip.avi", 0), ("clip.avi", 1), ("clip.avi", 2), ("clip.avi", 3),
        ("clip.avi", 4)]
    assert lines[1]["width"] == 300 and lines[1]["height"] == 200
    d = lines[0]["detections"][0]
    assert set(d) == {"class_id", "class_name", "score", "box"} and len(d["box"]) == 4
    errors = [x for x in err.splitlines() if x.startswith("gridsight detect: ")]
    assert errors == [
        f"gridsight detect: {tmp_path / 'missing.jpg'}: no such file or directory",
        f"gridsight detect: {bad / 'clip.mp4'}: unsupported or unreadable video (cannot open its container or codec)",
        f"gridsight detect: {bad / 'text.jpg'}: not an image (cannot decode it)",
        f"gridsight detect: {bad / 'truncated.jpg'}: truncated image (the file ends before the image data does)",
        f"gridsight detect: {bad / 'zero.jpg'}: empty file (0 bytes)",
        "gridsight detect: 5 of 8 inputs failed",
    ]
    assert "Traceback" not in err
    saved = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert saved == ["a.jpg", "b.jpg", *[f"clip_{i:06d}.jpg" for i in range(5)]]


def test_unknown_model_and_bad_options_are_one_line(tiny_pt, capsys, isolated_home):
    assert main(["detect", str(BUS), "--model", "no-such-model"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown model 'no-such-model'" in err[0]
    assert main(["detect", str(BUS), "--imgsz", "100", "--model", str(tiny_pt), "--backend", "torch"]) == 2
    assert capsys.readouterr().err.strip() == "gridsight detect: image size 100 is not a multiple of 32"
    assert main(["detect", str(BUS), "--classes", "0,unicorn", "--model", str(tiny_pt), "--backend", "torch"]) == 2
    assert "unknown classes ['unicorn']" in capsys.readouterr().err


def test_detect_bus_reports_bus_and_people(shared_data):
    out = subprocess.run([sys.executable, "-m", "gridsight.cli", "detect", str(BUS)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"{BUS}: ") and " bus" in summary and "person" in summary
    counts = dict((name, int(n)) for n, name in (part.split(" ", 1) for part in summary.split(": ", 1)[1]
                                                 .split("  (")[0].split(", ")))
    assert counts["bus"] == 1 and counts["person"] >= 3
