import numpy as np
import pytest

from models.detector import load_detector
from models.letterbox import letterbox_batch, unletterbox
from models.postprocess import boxes_from_head


def test_letterbox_matches_ultralytics_and_inverts():
    from ultralytics.data.augment import LetterBox

    rng = np.random.default_rng(1)
    for h, w in [(1080, 1920), (576, 768), (333, 101), (640, 640), (50, 900)]:
        frame = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        lb = letterbox_batch([frame], 320)
        ref = LetterBox((320, 320), auto=False)(image=frame)
        assert np.array_equal(lb.canvas[0], ref)
        rect = letterbox_batch([frame], 320, rect=True)
        assert np.array_equal(rect.canvas[0], LetterBox((320, 320), auto=True)(image=frame))
        box = np.array([[0, 0, w, h]], np.float32)
        canvas_box = box * lb.gains[0] + np.tile(lb.pads[0], 2)
        assert np.allclose(unletterbox(canvas_box, lb.gains[0], lb.pads[0], (h, w)), box, atol=0.5)


def test_rect_batch_is_the_smallest_rectangle_holding_every_frame():
    frames = [np.zeros((1080, 1920, 3), np.uint8), np.zeros((576, 768, 3), np.uint8)]
    lb = letterbox_batch(frames, 640, rect=True)
    assert lb.canvas.shape == (2, 480, 640, 3)  # 16:9 needs 640x384 (360 rounded up), 4:3 needs 640x480
    assert lb.pads.tolist() == [[0, 60], [0, 0]] and lb.gains.tolist() == pytest.approx([1 / 3, 5 / 6])


def test_class_aware_nms_keeps_overlapping_boxes_of_other_classes():
    # three anchors: two overlapping boxes of class 0 and one of class 1 on top of them
    pred = np.zeros((4 + 2, 3), np.float32)
    pred[:4, 0] = [50, 50, 40, 40]
    pred[:4, 1] = [51, 50, 40, 40]
    pred[:4, 2] = [50, 50, 40, 40]
    pred[4, 0], pred[4, 1], pred[5, 2] = 0.9, 0.8, 0.7
    xyxy, scores, cls = boxes_from_head(pred, conf=0.25, iou=0.5)
    assert cls.tolist() == [0, 1] and scores.tolist() == pytest.approx([0.9, 0.7])
    assert xyxy[0].tolist() == [30, 30, 70, 70]
    only1 = boxes_from_head(pred, conf=0.25, iou=0.5, class_ids=np.array([1]))
    assert only1[2].tolist() == [1]


def test_torch_engine_matches_ultralytics_predict(tiny_pt, isolated_home):
    """Same model, same frames: our letterbox + NMS give Ultralytics' boxes, in source pixels."""
    from ultralytics import YOLO

    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, s, dtype=np.uint8) for s in [(240, 320, 3), (200, 96, 3), (128, 128, 3)]]
    det = load_detector(tiny_pt, backend="torch", device="cpu", imgsz=128, conf=1e-5, iou=0.7, batch=2)
    assert det.backend == "torch" and det.imgsz == 128 and len(det.names) == 80
    ours = det.detect(frames)
    ref = YOLO(str(tiny_pt)).predict(frames, imgsz=128, conf=1e-5, iou=0.7, verbose=False)
    assert len(ours) == 3
    for d, r in zip(ours, ref):
        assert len(d) == len(r.boxes) > 0
        assert np.allclose(d.xyxy, r.boxes.xyxy.numpy(), atol=0.5)
        assert np.array_equal(d.class_ids, r.boxes.cls.numpy().astype(int))


def test_detect_rejects_bad_frames_and_handles_empty(tiny_pt, isolated_home):
    det = load_detector(tiny_pt, backend="torch", device="cpu", imgsz=64, batch=1)
    assert det.detect([]) == []
    with pytest.raises(ValueError, match="BGR uint8"):
        det.detect([np.zeros((10, 10), np.uint8)])
    with pytest.raises(ValueError, match="unknown classes"):
        load_detector(tiny_pt, backend="torch", device="cpu", imgsz=64, classes=["unicorn"])


def test_openvino_export_is_cached_and_agrees_with_torch(tiny_pt, isolated_home):
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 255, s, dtype=np.uint8) for s in [(96, 160, 3), (120, 90, 3), (96, 160, 3)]]
    tdet = load_detector(tiny_pt, backend="torch", device="cpu", imgsz=96, conf=1e-5, batch=2)
    odet = load_detector(tiny_pt, backend="openvino", device="cpu", imgsz=96, conf=1e-5, batch=2)
    exports = list((isolated_home / "cache" / "exports").iterdir())
    built = [p for p in exports if p.is_dir() and not p.name.startswith(".")]
    assert len(built) == 1 and built[0].name.endswith("-openvino-fp32-96-dyn")
    mtime = built[0].stat().st_mtime
    load_detector(tiny_pt, backend="openvino", device="cpu", imgsz=96, batch=4)  # cache hit, no rebuild
    assert built[0].stat().st_mtime == mtime
    assert odet.rect  # dynamic export: each frame gets its own rectangle (96x64 and 96x96 here)
    for t, o in zip(tdet.detect(frames), odet.detect(frames)):
        top_t, top_o = t[np.argsort(-t.scores)[:5]], o[np.argsort(-o.scores)[:5]]
        assert np.allclose(top_t.scores, top_o.scores, rtol=0.1, atol=1e-5)
        assert np.allclose(top_t.xyxy, top_o.xyxy, atol=2.0)
    assert sorted(k for k in odet._slots if k) == [(64, 96), (96, 96)]  # one static compilation per shape


def test_registry_coco_entry_resolves(shared_data):
    from models.registry import resolve_model

    entry = resolve_model("coco")
    assert entry.name == "coco" and entry.weights.exists() and len(entry.classes) == 80
    assert entry.find_prebuilt("openvino", "int8", 640, 8) is not None
    assert entry.find_prebuilt("openvino", "int8", 320, 1) is None


@pytest.mark.parametrize("precision", [None, "int8"])
def test_coco_detector_sees_bus_and_people(shared_data, bus_image, precision):
    det = load_detector("coco", device="cpu", backend="auto", precision=precision)
    assert det.backend == "openvino" and det.precision == (precision or det.precision) in ("fp32", "int8")
    if precision == "int8":  # the registry's prebuilt COCO int8 model, not an export
        assert det.source.endswith("coco-yolo11n-int8_openvino_model")
    d, = det.detect([bus_image])
    assert "bus" in d.class_names and d.class_names.count("person") >= 3
    bus = d.of_classes({"bus"})
    assert bus.xyxy[0][0] < 40 and bus.xyxy[0][2] > 760  # source pixels (810x1080), not canvas


def test_a_new_backend_is_one_module_and_one_row(tiny_pt, isolated_home, monkeypatch):
    """As docs/detection.md says: a module with a Detector subclass, a row in models/backends' table;
    ``auto`` chooses it where its row stands first, and the CLI and registry know its name."""
    from models import backends
    from models.registry import entry_from_path
    from tests.models.fake_backend import ROW

    monkeypatch.setattr(backends, "BACKENDS", (ROW, *backends.BACKENDS))
    det = load_detector(tiny_pt, device="cpu", imgsz=64)
    assert det.backend == "fake" and det.source == str(tiny_pt)
    d, = det.detect([np.zeros((100, 200, 3), np.uint8)])
    assert d.class_names == ["thing"] and d.xyxy[0].tolist() == pytest.approx([75, 25, 125, 75], abs=1)  # a square canvas
    assert load_detector(tiny_pt, backend="fake", device="cpu", imgsz=64).backend == "fake"
    assert entry_from_path(tiny_pt).weights == tiny_pt
    with pytest.raises(Exception, match="unknown backend 'nope'.*fake"):
        load_detector(tiny_pt, backend="nope", device="cpu", imgsz=64)


def test_int8_export_runs_convolutions_in_int8_but_keeps_attention_in_float(tiny_pt, isolated_home, tmp_path):
    """The quantisation recipe (OpenVINODetector.quantize): attention blocks stay float (-3.1 -> -0.7 mAP50
    points on COCO YOLO11n, bench/int8_accuracy.py), every other convolution runs in 8 bits."""
    from collections import Counter

    import openvino as ov
    from ultralytics import YOLO

    from models.calibration import calibration_yaml
    from models.export import export

    data = calibration_yaml({i: str(i) for i in range(80)}, count=8, root=tmp_path / "calib")
    art = export(tiny_pt, "openvino", "int8", 64, 1, calibration=data, dynamic=True)
    assert art.path.name.endswith("_int8_openvino_model") and (art.path / "metadata.yaml").exists()
    blocks = [i for i, m in enumerate(YOLO(str(tiny_pt)).model.model)
              if any(type(s).__name__ == "Attention" for s in m.modules())]
    assert blocks  # YOLO11 has its C2PSA block
    core = ov.Core()
    model = core.read_model(str(next(art.path.glob("*.xml"))))
    model.reshape({model.input(0): ov.PartialShape([1, 3, 64, 64])})
    seen = Counter()
    for op in core.compile_model(model, "CPU").get_runtime_model().get_ordered_ops():
        rt = op.get_rt_info()
        if rt["layerType"].astype(str) == "Convolution":
            names = rt["originalLayersNames"].astype(str)
            where = "attention" if any(f".model.{i}." in names for i in blocks) else "other"
            seen[where, rt["runtimePrecision"].astype(str) in ("u8", "i8")] += 1
    assert seen["attention", False] > 0 and seen["attention", True] == 0
    assert seen["other", True] > 10 * max(1, seen["other", False])  # the rest is int8
    det = load_detector(tiny_pt, backend="openvino", device="cpu", imgsz=64, precision="int8")
    assert det.precision == "int8" and det.detect([np.zeros((48, 64, 3), np.uint8)])[0] is not None
