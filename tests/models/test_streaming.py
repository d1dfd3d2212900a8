"""Frames fed one at a time with several in flight (``Detector.begin``/``finish``, the pipeline
scheduler's stream) get exactly the detections a plain ``detect`` call gives them; a bad frame
fails alone; batch-mode detectors keep working through the same scheduler."""

from __future__ import annotations

import numpy as np
import pytest

from models.detector import load_detector
from pipeline.scheduler import BatchScheduler

SHAPES = [(96, 160, 3), (120, 90, 3), (96, 160, 3), (64, 64, 3), (200, 120, 3), (96, 160, 3), (50, 80, 3)]


def _frames(seed: int = 3, shapes=SHAPES) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, s, dtype=np.uint8) for s in shapes]


def _same(a, b) -> None:
    assert len(a) == len(b)
    assert np.array_equal(a.class_ids, b.class_ids)
    assert np.allclose(a.scores, b.scores, atol=1e-6) and np.allclose(a.xyxy, b.xyxy, atol=1e-3)


@pytest.fixture()
def openvino(tiny_pt, isolated_home):
    return load_detector(tiny_pt, backend="openvino", device="cpu", imgsz=96, conf=1e-5, batch=4)


def test_openvino_begins_frames_before_finishing_the_first_and_matches_detect(openvino):
    det, frames = openvino, _frames()
    assert det.streams and det.in_flight >= 2
    one_by_one = [det.detect([f])[0] for f in frames]
    assert sum(len(d) for d in one_by_one) > 0  # random weights at conf 1e-5 still find boxes to compare
    tickets = [det.begin([f]) for f in frames]  # more open than in_flight: the request pool grows
    for ticket, want in zip(tickets, one_by_one):
        got, = det.finish(ticket)
        _same(got, want)
    for got, want in zip(det.detect(frames), one_by_one):  # detect pipelines the same way
        _same(got, want)
    with pytest.raises(ValueError, match="BGR uint8"):  # a bad frame is refused before anything starts
        det.detect([frames[0], np.zeros((10, 10), np.uint8)])
    _same(det.detect([frames[1]])[0], one_by_one[1])  # and leaves no request half used


@pytest.mark.parametrize("backend", ["openvino", "torch"])
def test_scheduler_gives_each_frame_its_own_detections_and_fails_a_bad_frame_alone(tiny_pt, isolated_home,
                                                                                   backend):
    det = load_detector(tiny_pt, backend=backend, device="cpu", imgsz=96, conf=1e-5, batch=4)
    assert det.streams == (backend == "openvino")
    # a batch shares one letterbox rectangle: frames of one shape get the same pixels however batched
    frames = _frames(4, SHAPES if det.streams else SHAPES[:1] * len(SHAPES)) * 3
    want = [det.detect([f])[0] for f in frames]
    sched = BatchScheduler(det, max_wait_s=0.05)
    try:
        futures = [sched.submit(f) for f in frames[:10]]
        bad = sched.submit(np.zeros((10, 10), np.float32))
        futures += [sched.submit(f) for f in frames[10:]]
        for fut, w in zip(futures, want):
            _same(fut.result(timeout=60), w)
        with pytest.raises(ValueError, match="BGR uint8"):
            bad.result(timeout=60)
    finally:
        sched.close()
    assert sched.frames == len(frames) and sched.failed == 1
    assert sched.cpu_s > 0
