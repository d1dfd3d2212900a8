"""Learning from reviews, end to end on a tiny set: reviewed tickets in the real API (PostgreSQL,
over loopback HTTP) -> ``gridsight dataset export`` -> ``gridsight train --extra-data`` (one
short epoch at 64 px) -> ``gridsight eval``."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import cv2
import pytest
import yaml

from gridsight.cli import main
from models.dataset_prep import load_manifest
from gridsight.paths import DEFAULT_MANIFEST
from tests.api.conftest import LiveServer
from tests.loop.scene import VTEST, Street

NAMES = load_manifest(DEFAULT_MANIFEST).names


@pytest.fixture
def db_url(pg_url):
    return pg_url


@pytest.fixture(scope="module")
def street():
    if not VTEST.exists():
        pytest.skip("vtest.avi missing (Debian package opencv-doc)")
    return Street()


def scene(street: Street, x: int | None) -> tuple[bytes, list[float] | None]:
    """A street frame with the bus at column ``x`` (None: no bus) and the bus's box."""
    img = street.background.copy()
    box = None
    if x is not None:
        h, w = street.bus.shape[:2]
        y = 500 - h
        img[y:y + h, x:x + w] = street.bus
        box = [float(x), float(y), float(x + w), 500.0]
    return cv2.imencode(".jpg", img)[1].tobytes(), box


def ticket(api, key: str, raw: bytes | None, box, annotated: bytes = b"") -> int:
    store = api.gs.store
    evidence = [{"kind": "annotated", "object_key": store.put(annotated or raw or b"x", "image/jpeg")}]
    if raw is not None:
        evidence.append({"kind": "raw", "object_key": store.put(raw, "image/jpeg"),
                         "sha256": hashlib.sha256(raw).hexdigest()})
    dets = [{"class_name": "bus", "score": 0.9, "box": box or [10, 10, 60, 60], "track_id": 1}]
    return api.incident(key=key, issue_type="fire_lane_blocked", zone_id="lane", detections=dets,
                        evidence=evidence)["ticket_id"]


def review(api, tid, **body):
    r = api.call("POST", f"/api/v1/tickets/{tid}/review", "operator", json=body)
    assert r.status_code == 200, r.text


def base_dataset(root: Path, street: Street) -> Path:
    """A tiny 'base' set in the default class list: a few frames with the bus labelled."""
    for split, xs in (("train", (40, 200, 380)), ("val", (120,))):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for x in xs:
            data, (x1, y1, x2, y2) = scene(street, x)
            (root / "images" / split / f"base{x}.jpg").write_bytes(data)
            (root / "labels" / split / f"base{x}.txt").write_text(
                f"{NAMES.index('bus')} {(x1 + x2) / 1536:.6f} {(y1 + y2) / 1152:.6f} {(x2 - x1) / 768:.6f} "
                f"{(y2 - y1) / 576:.6f}\n")
    doc = {"path": str(root), "train": "images/train", "val": "images/val", "names": dict(enumerate(NAMES))}
    (root / "data.yaml").write_text(yaml.safe_dump(doc))
    return root / "data.yaml"


@pytest.mark.timeout(300)
def test_reviews_export_train_eval_round_trip(api, street, tmp_path, capsys):
    old = ticket(api, "cam-01:fire_lane_blocked:lane:old", *scene(street, 100))
    review(api, old, verdict="confirmed")
    api.clock.advance(timedelta(days=2))
    since = api.clock.now().isoformat()
    api.clock.advance(timedelta(minutes=1))

    confirmed = {}
    for i, x in enumerate((20, 90, 160, 230, 300, 370, 440, 500)):
        raw, box = scene(street, x)
        tid = ticket(api, f"cam-01:fire_lane_blocked:lane:c{i}", raw, box, annotated=scene(street, 10)[0])
        review(api, tid, verdict="confirmed")
        confirmed[tid] = (raw, box)
    relabel = ticket(api, "cam-01:fire_lane_blocked:lane:w", *scene(street, 250))
    review(api, relabel, verdict="rejected", reason="wrong_class", correct_class="truck", mute=False)
    negatives = [ticket(api, f"cam-01:fire_lane_blocked:lane:n{i}", scene(street, None)[0], [300, 420, 380, 500])
                 for i in range(3)]
    for tid in negatives:
        review(api, tid, verdict="rejected", reason="not_a_problem", mute=False)
    private = ticket(api, "cam-01:fire_lane_blocked:lane:p", *scene(street, 60))
    review(api, private, verdict="rejected", reason="privacy", mute=False)
    dup = ticket(api, "cam-01:fire_lane_blocked:lane:d", *scene(street, 70))
    review(api, dup, verdict="rejected", reason="duplicate", duplicate_of=str(relabel))
    no_raw = ticket(api, "cam-01:fire_lane_blocked:lane:r", None, [1, 2, 3, 4])
    review(api, no_raw, verdict="confirmed")

    out = tmp_path / "reviews"
    with LiveServer(api.app) as server:
        assert main(["dataset", "export", str(out), "--since", since, "--api-url", server.url,
                     "--api-key", api.keys["ingest"]]) == 2
        assert "reader key" in capsys.readouterr().err
        assert main(["dataset", "export", str(out), "--since", "last week", "--api-url", server.url]) == 2
        assert "not a date" in capsys.readouterr().err
        assert main(["dataset", "export", str(out), "--since", since, "--api-url", server.url,
                     "--api-key", api.keys["viewer"]]) == 0
    printed = capsys.readouterr().out
    assert "exported" in printed
    only = tmp_path / "only-wrong-class"
    with LiveServer(api.app) as server:
        assert main(["dataset", "export", str(only), "--since", since, "--api-url", server.url,
                     "--api-key", api.keys["viewer"], "--hard-negatives", "wrong_class"]) == 0
    strict = json.loads((only / "report.json").read_text())["kinds"]
    assert strict["left out (not_a_problem)"] == 3 and "hard negative" not in strict
    kept = (out / "manifest.jsonl").read_text()
    assert main(["dataset", "export", str(out), "--since", since, "--api-url", "http://127.0.0.1:9",
                 "--api-key", api.keys["viewer"]]) == 2  # API down: the previous export stays as it was
    assert "unreachable" in capsys.readouterr().err and (out / "manifest.jsonl").read_text() == kept

    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    by_ticket = {r["ticket_id"]: r for r in rows}
    assert set(by_ticket) == set(confirmed) | {relabel, *negatives}  # privacy, duplicate, no raw, old: out
    report = json.loads((out / "report.json").read_text())
    assert report["kinds"] == {"confirmed": 8, "relabelled": 1, "hard negative": 3, "left out (privacy)": 1,
                               "left out (duplicate)": 1, "left out (no raw frame)": 1}
    assert report["boxes"] == {"bus": 8, "truck": 1}
    for tid, (raw, (x1, y1, x2, y2)) in confirmed.items():
        r = by_ticket[tid]
        image = out / r["image"]
        assert image.read_bytes() == raw and r["sha256"] == hashlib.sha256(raw).hexdigest()  # raw, never annotated
        (line,) = (out / "labels" / r["split"] / f"{r['number']}.txt").read_text().splitlines()
        cls, cx, cy, w, h = line.split()
        assert int(cls) == NAMES.index("bus")
        assert abs(float(cx) - (x1 + x2) / 2 / 768) < 1e-5 and abs(float(h) - (y2 - y1) / 576) < 1e-5
        assert r["verdict"] == "confirmed" and r["camera_id"] == "cam-01" and r["object_key"].startswith("evidence/")
    truck = by_ticket[relabel]
    assert (out / "labels" / truck["split"] / f"{truck['number']}.txt").read_text().startswith(
        f"{NAMES.index('truck')} ")
    for tid in negatives:
        r = by_ticket[tid]
        assert r["kind"] == "hard negative" and (out / "labels" / r["split"] / f"{r['number']}.txt").read_text() == ""
    assert report["images"]["train"] + report["images"]["val"] == len(rows) == 12
    assert report["images"]["val"] >= 1

    # train on the base set plus the export, one short epoch; then evaluate on the export
    from ultralytics import YOLO

    base_weights = tmp_path / "base.pt"
    YOLO("yolo11n.yaml").save(str(base_weights))
    base = base_dataset(tmp_path / "base", street)
    run = tmp_path / "runs" / "loop"
    bad = tmp_path / "bad"
    (bad / "data.yaml").parent.mkdir()
    (bad / "data.yaml").write_text(yaml.safe_dump({"path": str(bad), "train": "x", "val": "x", "names": ["a"]}))
    assert main(["train", "--data", str(base), "--extra-data", str(bad), "--base", str(base_weights),
                 "--run-dir", str(run)]) == 2
    assert "--names-from" in capsys.readouterr().err
    assert main(["train", "--data", str(base), "--extra-data", str(out), "--base", str(base_weights),
                 "--run-dir", str(run), "--epochs", "1", "--imgsz", "64", "--batch", "4", "--no-val"]) == 0
    combined = yaml.safe_load(run.with_suffix(".data.yaml").read_text())
    assert str(out / "images" / "train") in combined["train"] and len(combined["train"]) == 2
    from ultralytics.data.utils import load_dataset_cache_file

    cache = load_dataset_cache_file(tmp_path / "base" / "labels" / "train.cache")  # what the trainer read
    seen = {Path(x["im_file"]).name: x for x in cache["labels"]}
    exported = [r for r in rows if r["split"] == "train"]
    assert len(seen) == 3 + len(exported)
    for r in exported:
        assert len(seen[Path(r["image"]).name]["cls"]) == r["boxes"]  # hard negatives: no boxes
    weights = run / "weights" / "last.pt"
    assert YOLO(str(weights)).names[NAMES.index("bus")] == "bus"
    capsys.readouterr()
    assert main(["eval", str(out / "data.yaml"), "--model", str(weights), "--imgsz", "64", "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["images"] == report["images"]["val"]
    assert "bus" in result["classes"] and 0.0 <= result["classes"]["bus"]["map50"] <= 1.0
