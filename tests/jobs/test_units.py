"""Segment planning, frame ranges, stitching, the job store and leases, without workers."""

from __future__ import annotations

import time

import numpy as np
import pytest

from pipeline.distributed.footage import FootageError, probe, read_frames
from pipeline.distributed.plan import plan_segments
from pipeline.distributed.stitch import fold, new_state

VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"


def test_probe_and_seeked_ranges_match_a_straight_read(clip):
    info = probe(clip)
    assert info.frames == 1500 and info.fps == 10 and info.keyframes[:3] == [0, 12, 24]
    straight = {i: img for i, _, img in read_frames(info, 0, 60)}
    for start in (11, 12, 13, 47):  # before, on and after a keyframe
        got = list(read_frames(info, start, start + 5))
        assert [i for i, _, _ in got] == list(range(start, start + 5))
        assert all(abs(t - i / 10) < 1e-6 for i, t, _ in got)
        assert all(np.array_equal(img, straight[i]) for i, _, img in got)


def test_segments_cut_on_keyframes_and_cover_every_frame_once(clip):
    info = probe(clip)
    segs = plan_segments([info, info], segment_s=20, warmup_s=7)
    for s in segs:
        assert s.start in info.keyframes
        assert s.warmup_from <= s.start and info.times[s.start] - info.times[s.warmup_from] <= 7.0 + 1e-6
    for f in (0, 1):
        mine = [s for s in segs if s.file_index == f]
        assert mine[0].start == 0 and mine[-1].end == info.frames
        assert all(a.end == b.start for a, b in zip(mine, mine[1:]))
    assert segs[len(segs) // 2].offset_s == pytest.approx(info.duration_s)
    assert [s.index for s in segs] == list(range(len(segs)))
    inner = [s for s in segs if s.end < info.frames]  # a file's last segment takes what is left
    assert all(abs((s.end_s - s.start_s) - 20) <= 1.2 for s in inner)  # within a GOP of the target


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100])
def test_unreadable_footage_is_a_clear_error(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(FootageError, match="bad.mp4"):
        probe(bad)
    with pytest.raises(FootageError, match="no such file"):
        probe(tmp_path / "missing.mp4")


def rec(key, first, last, open_at_end, score=0.5, issue="illegal_parking", zone="bay", reopen_s=600):
    return dict(key=key, issue_type=issue, zone_id=zone, first_seen=first, last_seen=last, open_at_end=open_at_end,
                score=score, detections=[], evidence={"raw": "eA=="}, meta={}, reopen_s=reopen_s)


def posts_of(state, *segments):
    out = []
    for records in segments:
        out += [(p["incident"]["key"], p["incident"]["seq"], p["incident"]["event"], p["evidence"] is not None)
                for p in fold(state, records, camera_id="c", job_id="j")]
    return out


def test_stitching_joins_across_cuts_and_reopens_like_one_book():
    state = new_state()
    got = posts_of(state,
                   [rec("c:ip:bay:100", 100, 200, True, 0.5)],          # open at the cut
                   [rec("c:ip:bay:150", 150, 260, False, 0.9)],         # warm-up rebuilt it: same incident
                   [rec("c:ip:bay:500", 500, 520, False, 0.4)],         # back within reopen_s: reopened
                   [rec("c:ip:bay:2000", 2000, 2100, False, 0.6)])      # long after: a new incident
    assert got == [("c:ip:bay:100", 1, "open", True), ("c:ip:bay:100", 2, "close", True),
                   ("c:ip:bay:100", 3, "open", False), ("c:ip:bay:2000", 1, "open", True)]


def test_stitching_is_deterministic_and_per_place():
    segs = [[rec("c:a:1", 10, 50, True, zone="z1"), rec("c:b:5", 5, 50, True, issue="fire", zone=None)],
            [rec("c:a:30", 30, 90, False, zone="z1"), rec("c:z2:60", 60, 90, True, zone="z2")]]
    first, second = posts_of(new_state(), *segs), posts_of(new_state(), *segs)
    assert first == second
    assert {k for k, *_ in first} == {"c:a:1", "c:b:5", "c:z2:60"}


def test_job_store_counts_a_redelivered_segment_once(job_env):
    from gridsight.jobs import JobStore

    store = JobStore()
    job = store.create("cam", [{"path": "/x.mp4"}], "2026-03-02T08:00:00+00:00")
    try:
        assert store.save_plan(job, [{"i": 0}, {"i": 1}], 100, files=[{}], camera={"id": "cam"})
        assert not store.save_plan(job, [{"i": 0}], 50, files=[{}], camera={"id": "cam"})
        assert store.transition(job, "running", ("queued",))
        assert store.save_result(job, 0, {"incidents": []})
        assert not store.save_result(job, 0, {"incidents": ["different"]})
        assert store.result(job, 0) == {"incidents": []}
        v = store.get(job)
        assert (v.segments_total, v.segments_done, v.frames_total) == (2, 1, 100)
        store.progress(job, 1, 30)
        store.progress(job, 1, 30)  # a redelivered segment reports the same frames again
        assert store.get(job).frames_done == 30
        assert store.get(job).eta_s is not None
        assert store.cancel(job) and not store.cancel(job) and not store.fail(job, "late")
        assert store.get(job).status == "cancelled"
    finally:
        store.purge(job)
    assert store.get(job) is None


def test_lease_keeper_stops_before_its_lease_can_be_taken(job_env):
    """Redis unreachable for the holder: it stops watching before the key expires for others."""
    import redis

    from gridsight.jobs import connect
    from pipeline.distributed.leases import LeaseKeeper, lease_key

    r = connect()
    r.delete(lease_key("u-1"))
    events = []
    a = LeaseKeeper(r, "wa", capacity=1, cameras=lambda: ["u-1"], ttl_s=1.0,
                    on_start=lambda c: events.append(("start", "wa", time.time())),
                    on_stop=lambda c: events.append(("stop", "wa", time.time())))
    a.tick()
    assert a.held.keys() == {"u-1"} and r.get(lease_key("u-1")) == "wa"
    a.r = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)  # its Redis is gone
    b = LeaseKeeper(r, "wb", capacity=1, cameras=lambda: ["u-1"], ttl_s=1.0,
                    on_start=lambda c: events.append(("start", "wb", time.time())), on_stop=lambda c: None)
    deadline = time.time() + 5
    while time.time() < deadline and not b.held:
        a.tick()
        b.tick()
        time.sleep(0.05)
    assert b.held.keys() == {"u-1"}
    stop_a = next(t for e, w, t in events if e == "stop" and w == "wa")
    start_b = next(t for e, w, t in events if e == "start" and w == "wb")
    assert stop_a <= start_b
    b.stop()
    assert r.get(lease_key("u-1")) is None


class FlakyDetector:
    """The scene's colour detector with injected faults: the first ``fail_calls`` calls raise
    (a transient fault, e.g. a runtime still warming up); with ``poison_first`` the first frame
    it is given fails every time (a frame the runtime cannot take)."""

    def __init__(self, fail_calls: int = 0, poison_first: bool = False) -> None:
        from tests.jobs.scene import ColorDetector

        self.inner = ColorDetector()
        self.names, self.batch = self.inner.names, 4
        self.fail_calls, self.poison_first, self.calls, self.poison = fail_calls, poison_first, 0, None

    def detect(self, frames):
        self.calls += 1
        if self.poison_first and self.poison is None:
            self.poison = frames[0].tobytes()
        if self.calls <= self.fail_calls:
            raise RuntimeError("injected: runtime not ready")
        if self.poison is not None and any(f.tobytes() == self.poison for f in frames):
            raise RuntimeError("injected: bad frame")
        return self.inner.detect(frames)


def _run_segment(clip, detector):
    from pipeline.distributed.segment import CameraSpec, SegmentRunner
    from gridsight.issues import load_catalogue
    from gridsight.paths import CONFIGS_DIR
    from tests.jobs.scene import CAMERA

    info = probe(clip)
    seg = plan_segments([info], segment_s=1e12, warmup_s=0)[0]
    runner = SegmentRunner(detector, load_catalogue(CONFIGS_DIR / "issues.yaml"), language="en")
    try:
        return runner.run(CameraSpec("scene", **CAMERA), seg, info, 1_700_000_000.0, gate=False), runner
    finally:
        runner.close()


def test_a_failed_detector_batch_is_retried_frame_by_frame(clip):
    """A transient fault on the first batch (frame 0 and whatever queued behind it) must not
    leave those frames undetected: the incidents and their first-seen times equal a clean run's."""
    clean, _ = _run_segment(clip, FlakyDetector())
    flaky = FlakyDetector(fail_calls=1)
    got, runner = _run_segment(clip, flaky)
    assert flaky.calls > 1 and runner.scheduler.failed == 0
    assert got["detected"] == got["sampled"] == clean["sampled"]
    assert [(r["key"], r["first_seen"]) for r in got["incidents"]] == \
        [(r["key"], r["first_seen"]) for r in clean["incidents"]]
    assert got["incidents"], "the scene makes incidents"


def test_a_segment_with_undetectable_frames_fails_instead_of_guessing(clip):
    """A frame the detector fails on even alone would be judged as 'unchanged': a live camera
    moves on, but an archive segment must not store a result that silently differs."""
    with pytest.raises(RuntimeError, match=r"segment 0: the detector failed on 1 of \d+ frames"):
        _run_segment(clip, FlakyDetector(poison_first=True))
