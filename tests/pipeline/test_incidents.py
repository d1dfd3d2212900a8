"""Rules, tracking and incidents from scripted detection sequences."""

from __future__ import annotations

import numpy as np
import pytest

from gridsight.issues import Zone
from pipeline.rules import IssueRule, RuleBook
from gridsight.issues import load_catalogue
from tests.pipeline.scripted import KERB, SHAPE, T0, Scene, dets, parking_rule

CAR = ("car", (400, 250, 520, 330), 0.8)  # bottom-centre (460, 330): in the kerb zone
CAR_OUTSIDE = ("car", (20, 250, 140, 330), 0.8)


def moving_car(t):
    x = 300 + 40 * t  # drives through the zone at 40 px/s
    return (("car", (x, 250, x + 120, 330), 0.8),)


def test_parked_car_opens_one_incident_after_dwell():
    s = Scene([parking_rule()])
    s.run(59, 2, lambda t: (CAR,))
    assert s.events == []  # not yet: 60 s of dwell and persistence
    s.run(600, 2, lambda t: (CAR,), start=59)  # ten more minutes parked: still one incident
    opens = [e for e in s.events if e.event == "open"]
    assert len(opens) == 1
    ev = opens[0]
    assert ev.key == f"cam-t:illegal_parking:kerb:{int(T0)}"
    assert ev.first_seen == T0 and 60 <= ev.last_seen - T0 <= 61
    assert ev.zone_id == "kerb" and ev.detections[0]["class_name"] == "car"
    assert all(e.event != "close" for e in s.events)
    seqs = [e.seq for e in s.events]
    assert seqs == list(range(1, len(seqs) + 1))  # per-key seq, increasing


def test_moving_traffic_and_cars_outside_the_zone_never_open():
    s = Scene([parking_rule()])
    s.run(8, 2, moving_car)  # drives through and out
    s.run(300, 2, lambda t: (CAR_OUTSIDE,), start=8)  # parked, but outside the zone
    assert s.events == []


def test_flicker_does_not_open_or_close():
    s = Scene([parking_rule()])
    # detected in 2 of every 3 frames (missed detections): opens once, never closes
    s.run(300, 2, lambda t: (CAR,) if int(t * 2) % 3 else ())
    assert [e.event for e in s.events if e.event != "update"] == ["open"]
    # a car that shows up for single frames only never becomes an incident
    s2 = Scene([parking_rule(persistence_s=10, dwell_s=0)])
    s2.run(300, 2, lambda t: (CAR,) if int(t * 2) % 20 == 0 else ())
    assert s2.events == []


def test_occlusion_and_id_switch_keep_one_incident():
    s = Scene([parking_rule()])
    end = s.run(90, 2, lambda t: (CAR,))
    assert [e.event for e in s.events] == ["open"]
    # a bus hides the car for 20 s (longer than ByteTrack keeps a lost track at 2 fps: new id after)
    end = s.run(20, 2, lambda t: (), start=end)
    end = s.run(120, 2, lambda t: (("car", (402, 251, 521, 331), 0.82),), start=end)
    assert [e.event for e in s.events if e.event != "update"] == ["open"]
    assert len({e.key for e in s.events}) == 1
    # the new id inherited the old one's dwell: the car has been still since T0
    track = s.tracker.visible[0]
    assert track.still_since == T0


def test_clear_then_recurrence_reuses_the_key_and_later_makes_a_new_one():
    s = Scene([parking_rule(reopen_s=600)])
    end = s.run(90, 2, lambda t: (CAR,))
    end = s.run(70, 2, lambda t: (), start=end)  # gone longer than clear_s
    assert [e.event for e in s.events] == ["open", "close"]
    first_key = s.events[0].key
    assert s.events[1].last_seen - T0 == pytest.approx(89.5)
    end = s.run(130, 2, lambda t: (CAR,), start=end)  # back within reopen_s
    assert [e.event for e in s.events if e.event != "update"] == ["open", "close", "open"]
    assert {e.key for e in s.events} == {first_key}
    assert [e.seq for e in s.events] == list(range(1, len(s.events) + 1))
    end = s.run(70, 2, lambda t: (), start=end)
    end = s.run(700, 1, lambda t: (), start=end)  # longer than reopen_s
    s.run(130, 2, lambda t: (CAR,), start=end)
    keys = [e.key for e in s.events if e.event == "open"]
    assert keys[:2] == [first_key, first_key] and keys[2] != first_key
    assert s.events[-1].seq == 1


def test_clock_jumps():
    s = Scene([parking_rule(persistence_s=30, dwell_s=30, clear_s=30)])
    s.step(0, dets(CAR))
    s.step(0.5, dets(CAR))
    s.step(3600, dets(CAR))  # jumps an hour ahead: nobody watched, nothing opens from two frames
    s.step(3600.5, dets(CAR))
    assert s.events == []
    s.run(40, 2, lambda t: (CAR,), start=3601)
    assert [e.event for e in s.events] == ["open"]
    assert s.events[0].first_seen - T0 >= 3600
    # the clock goes back ten minutes: time stands still, nothing closes or reopens
    s.run(20, 2, lambda t: (CAR,), start=3641 - 600)
    s.run(20, 2, lambda t: (CAR,), start=3642)
    assert [e.event for e in s.events if e.event != "update"] == ["open"]
    assert all(b.last_seen >= a.last_seen for a, b in zip(s.events, s.events[1:]))


def test_unchanged_frames_keep_time_running():
    """Motion gating skips inference: the tracker is told nothing changed and dwell keeps growing."""
    s = Scene([parking_rule()])
    s.step(0, dets(CAR))
    s.step(0.5, dets(CAR))
    for i in range(2, 140):
        s.step(i / 2, None if i % 20 else dets(CAR))
    assert [e.event for e in s.events] == ["open"]


def test_fire_anywhere_and_area_share_for_water():
    fire = IssueRule("fire", ("fire",), ("any",), min_score=0.35, persistence_s=2, clear_s=30, reopen_s=300)
    water = IssueRule("waterlogging", ("water",), ("roadway",), min_score=0.3, min_area_share=0.15,
                      persistence_s=10, clear_s=60)
    road = Zone("road", "roadway", [(0, 300), (640, 300), (640, 480), (0, 480)])
    s = Scene([fire, water], zones=[road])
    s.run(3, 2, lambda t: (("fire", (10, 10, 60, 60), 0.7),))
    assert [(e.event, e.rule.issue_type, e.zone_id) for e in s.events] == [("open", "fire", None)]
    assert s.events[0].key.startswith("cam-t:fire:frame:")
    s.events.clear()
    small = ("water", (0, 400, 100, 480), 0.6)  # ~7% of the road zone
    s.run(30, 1, lambda t: (small,), start=3)
    assert s.events == [] or all(e.rule.issue_type == "fire" for e in s.events)
    big = ("water", (0, 330, 400, 480), 0.6)  # ~52% of the road zone (its top is above the zone)
    s.run(15, 1, lambda t: (big,), start=33)
    water_events = [e for e in s.events if e.rule.issue_type == "waterlogging"]
    assert [e.event for e in water_events] == ["open"] and water_events[0].zone_id == "road"


def test_rulebook_skips_rules_the_model_cannot_see():
    rules = load_catalogue("configs/issues.yaml")
    coco = {"person", "car", "truck", "bus", "motorcycle", "bicycle", "umbrella", "chair", "bench", "dining table"}
    book = RuleBook(rules, [KERB], coco)
    assert {r.issue_type for r, _ in book.entries} == {"illegal_parking", "illegal_parking_bicycle"}
    full = RuleBook(rules, [KERB], coco | {"fire", "smoke", "garbage", "overflow", "water"})
    assert {"fire", "smoke", "garbage"} <= {r.issue_type for r, _ in full.entries}
    assert rules["fire"].name("en+zh") == "Fire 火情"


def test_bad_rule_config_names_the_problem(tmp_path):
    p = tmp_path / "issues.yaml"
    p.write_text("issue_types:\n  x:\n    rule: {classes: [car], zones: [moon]}\n")
    with pytest.raises(ValueError, match="unknown zone kinds"):
        load_catalogue(p)


def test_zones_bottom_centre_and_normalised():
    z = Zone("n", "sidewalk", [(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)], normalized=True)
    boxes = np.array([[330, 100, 400, 300], [330, 100, 400, 200]], np.float32)  # feet at y=300 / y=200
    assert z.contains_boxes(boxes, SHAPE).tolist() == [True, False]
    with pytest.raises(ValueError, match="kind"):
        Zone("bad", "moon", [(0, 0), (1, 0), (1, 1)])


def test_restarted_pipeline_continues_the_incident_under_its_key(tmp_path):
    """Live cameras keep a ledger of keys and seqs in the outbox file: after a restart the parked
    car is the same incident (same key, seq continues), not a second ticket."""
    from pipeline.outbox import Outbox

    box = Outbox(tmp_path / "outbox.db")
    s = Scene([parking_rule()], ledger=box)
    end = s.run(90, 2, lambda t: (CAR,))
    assert [e.event for e in s.events] == ["open"]
    first = s.events[0]
    box.close()
    box = Outbox(tmp_path / "outbox.db")  # the pipeline restarts a minute later
    s2 = Scene([parking_rule()], ledger=box)
    s2.run(90, 2, lambda t: (CAR,), start=end + 60)
    assert [(e.event, e.key) for e in s2.events][:1] == [("open", first.key)]
    assert s2.events[0].seq == first.seq + 1
    box.close()
    # much later (beyond reopen_s) it is a new incident
    box = Outbox(tmp_path / "outbox.db")
    s3 = Scene([parking_rule()], ledger=box)
    s3.run(90, 2, lambda t: (CAR,), start=end + 5000)
    assert s3.events[0].key != first.key and s3.events[0].seq == 1
    box.close()
