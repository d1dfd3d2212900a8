"""Motion gating: which sampled frames go to the detector."""

from __future__ import annotations

import numpy as np

from gridsight.issues import Zone
from pipeline.motion import MotionDetector
from pipeline.sampling import DetectionPolicy

ZONE = Zone("kerb", "no_parking", [(400, 300), (640, 300), (640, 480), (400, 480)])


def scene(noise_seed: int, blob_at: tuple[int, int] | None = None) -> np.ndarray:
    rng = np.random.default_rng(noise_seed)
    img = np.full((480, 640, 3), 100, np.uint8)
    img += rng.integers(0, 4, img.shape, dtype=np.uint8)  # sensor noise: never "motion"
    if blob_at:
        x, y = blob_at
        img[y:y + 60, x:x + 60] = (20, 200, 240)
    return img


def test_static_scene_skips_inference_but_checks_periodically():
    policy = DetectionPolicy(MotionDetector([ZONE]), full_check_s=10, stationary_recheck_s=5)
    reasons = [policy.decide(scene(i), i * 0.5) for i in range(50)]  # 25 s of a still scene at 2 fps
    assert reasons[0] == "first" and reasons[1] == "motion"  # the first frame, then its confirming look
    assert [i for i, r in enumerate(reasons) if r == "full"] == [21, 41]  # every 10 s
    assert reasons.count(None) == 46


def test_motion_outside_the_watched_zones_is_ignored_inside_it_is_not():
    policy = DetectionPolicy(MotionDetector([ZONE]), full_check_s=100)
    policy.decide(scene(0), 0.0)
    policy.decide(scene(1), 0.5)
    # someone walks across the top-left corner (no zone there): no inference
    assert [policy.decide(scene(i, (50 + 30 * i, 50)), 1.0 + i * 0.5) for i in range(5)] == [None] * 5
    # a car drives into the kerb zone: inference, then one more frame to confirm it
    assert policy.decide(scene(9, (450, 350)), 4.0) == "motion"
    assert policy.decide(scene(10, (450, 350)), 4.5) == "motion"  # settle
    assert policy.decide(scene(11, (450, 350)), 5.0) is None  # parked: unchanged


def test_still_objects_are_rechecked_and_the_whole_frame_counts_for_rules_anywhere():
    policy = DetectionPolicy(MotionDetector([ZONE]), full_check_s=100, stationary_recheck_s=5)
    policy.decide(scene(0), 0.0)
    policy.decide(scene(1), 0.5)
    reasons = [policy.decide(scene(i), 1.0 + i * 0.5, has_stationary=True) for i in range(20)]
    assert [i for i, r in enumerate(reasons) if r == "recheck"] == [9, 19]  # every 5 s while timing still objects
    anywhere = DetectionPolicy(MotionDetector([Zone("frame", "any", [(0, 0), (1, 0), (1, 1), (0, 1)], True)]))
    anywhere.decide(scene(0), 0.0)
    anywhere.decide(scene(1), 0.5)
    assert anywhere.decide(scene(2, (50, 50)), 1.0) == "motion"
    assert DetectionPolicy(None).decide(scene(0), 0.0) == "motion"  # gating off: every frame
