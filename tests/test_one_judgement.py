"""One judgement: the camera path, the upload path and photo verification give the same answer.

Seeded random scenes (frame sizes, zones of every kind in pixels or normalised, boxes of every
class of the catalogue and some it does not know, every issue type with its area rule's share
varied, camera sensitivities and model operating points) are judged by

* the camera path: the pipeline's :class:`pipeline.rules.RuleBook` on tracks (all stationary,
  so dwell rules count them, as a single picture must), zones loaded as ``cameras.yaml`` is;
* the upload path: ``api.services.uploads.upload_incidents`` with the camera's zones as the API
  stores them (rows, ``normalized`` an option);
* the verification path: ``api.services.verification.judge_photo`` for a ticket at each
  (issue type, zone) the camera path judged;

and must agree on every (issue type, place): whether it holds and which detections make it.
:func:`scene` makes plain data, so the same scenes can be fed to older code.
"""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import yaml

from gridsight.paths import CONFIGS_DIR

CASES = 500
KINDS = ("sidewalk", "roadway", "fire_lane", "no_parking", "storefront", "any")
CATALOGUE = yaml.safe_load((CONFIGS_DIR / "issues.yaml").read_text(encoding="utf-8"))["issue_types"]
RULE_CLASSES = sorted({c for t in CATALOGUE.values() for c in t["rule"]["classes"]})
CLASSES = RULE_CLASSES + ["person", "kite"]  # and some no rule counts


def _polygon(rng: random.Random, w: float, h: float) -> list[list[float]]:
    if rng.random() < 0.5:  # a box
        x1, x2 = sorted(rng.uniform(0, w) for _ in range(2))
        y1, y2 = sorted(rng.uniform(0, h) for _ in range(2))
        return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]]
    n = rng.randint(3, 7)  # any polygon: concave, even self-crossing
    return [[rng.uniform(0, w), rng.uniform(0, h)] for _ in range(n)]


def _box(rng: random.Random, w: int, h: int, big: bool) -> list[float]:
    bw = rng.uniform(0.2, 0.9) * w if big else rng.uniform(2, 0.4 * w)
    bh = rng.uniform(0.2, 0.9) * h if big else rng.uniform(2, 0.4 * h)
    x1, y1 = rng.uniform(-0.1 * w, w - 1), rng.uniform(-0.1 * h, h - 1)
    return [x1, y1, min(w, x1 + bw), min(h, y1 + bh)]


def scene(seed: int, thresholds: bool = True) -> dict:
    """One random scene as plain data; ``thresholds``: vary sensitivity, operating points and
    which rules set their own min_score (older code knew none of them)."""
    rng = random.Random(seed)
    h, w = rng.randint(90, 720), rng.randint(120, 1280)
    zones = []
    for i in range(rng.randint(0, 5)):
        normalized = rng.random() < 0.3
        zones.append({"id": f"z{i}", "kind": rng.choice(KINDS), "normalized": normalized,
                      "polygon": _polygon(rng, 1, 1) if normalized else _polygon(rng, w, h)})
    types = {k: {**v, "rule": dict(v["rule"])} for k, v in CATALOGUE.items()}
    types["waterlogging"]["rule"]["min_area_share"] = rng.choice([0.01, 0.05, 0.15, 0.3, 0.6])
    min_scores, points = {}, {}
    if thresholds:
        for t in types.values():
            if rng.random() < 0.4:
                t["rule"].pop("min_score", None)
        min_scores = {k: rng.choice([0.2, 0.5, 0.8]) for k in types if rng.random() < 0.2}
        points = {c: rng.choice([0.1, 0.3, 0.45, 0.7]) for c in RULE_CLASSES if rng.random() < 0.4}
    n = rng.randint(0, 12)
    classes = [rng.choice(CLASSES) for _ in range(n)]
    boxes = [_box(rng, w, h, c == "water" and rng.random() < 0.7) for c in classes]
    scores = [rng.choice([0.3, 0.35, 0.5]) if rng.random() < 0.15 else rng.random() for _ in range(n)]
    return {"shape": (h, w, 3), "zones": zones, "issue_types": types, "classes": classes, "boxes": boxes,
            "scores": scores, "min_scores": min_scores, "operating_points": points}


def _tracks(s: dict) -> list:
    from pipeline.track import Track

    return [Track(i + 1, c, float(np.float32(sc)), np.array(b, np.float32), 0.0, 1000.0, 0.0,
                  np.array(b, np.float32)) for i, (c, b, sc) in enumerate(zip(s["classes"], s["boxes"], s["scores"]))]


def camera_path(s: dict) -> dict:
    """{(issue type, place id): (holds, track ids)} from the pipeline's rule book."""
    from gridsight.issues import parse_catalogue, parse_zones
    from pipeline.rules import RuleBook

    book = RuleBook(parse_catalogue(s["issue_types"]), parse_zones(s["zones"]), min_scores=s["min_scores"],
                    operating_points=s["operating_points"])
    return {(o.rule.issue_type, o.place.id): (o.present, sorted(t.id for t in o.subjects))
            for o in book.evaluate(_tracks(s), s["shape"])}


def _api_zones(s: dict) -> list:
    from api.db.models import Zone as ZoneRow
    from api.services.registry import judged_zones

    return judged_zones([ZoneRow(camera_id="cam", id=z["id"], kind=z["kind"], polygon=z["polygon"],
                                 options={"normalized": True} if z["normalized"] else {}) for z in s["zones"]])


def _detections(s: dict):
    from gridsight.issues import Detections

    return Detections.from_named(s["boxes"], s["scores"], s["classes"], range(1, len(s["classes"]) + 1))


def upload_path(s: dict) -> dict:
    """{(issue type, place id): track ids} of what holds, from the upload service."""
    from api.services.rules import DispatchRules
    from api.services.uploads import upload_incidents

    dets = _detections(s)
    rules = DispatchRules.from_dicts(s["issue_types"], {})
    found = upload_incidents(dets, s["shape"], rules.issue_types, _api_zones(s), min_scores=s["min_scores"],
                             operating_points=s["operating_points"])
    return {(f.rule.issue_type, f.zone_id or "frame"): sorted(dets.track_ids[f.subjects].tolist()) for f in found}


def verification_path(s: dict, issue_type: str, place_id: str) -> tuple[bool, list[int]]:
    """Whether an after photo of this scene still shows a ticket's problem at that place."""
    from api.services.rules import DispatchRules
    from api.services.verification import judge_photo

    dets = _detections(s)
    rule = DispatchRules.from_dicts(s["issue_types"], {}).issue_type(issue_type)
    f = judge_photo(dets, s["shape"], rule, _api_zones(s), None if place_id == "frame" else place_id,
                    min_scores=s["min_scores"], operating_points=s["operating_points"])
    return f.present, sorted(dets.track_ids[f.subjects].tolist())


def test_camera_upload_and_verification_judge_alike():
    held = area_held = area_judged = 0
    for seed in range(CASES):
        s = scene(seed)
        camera = camera_path(s)
        holds = {k: ids for k, (present, ids) in camera.items() if present}
        assert upload_path(s) == holds, f"seed {seed}: upload differs from camera"
        for (itype, place), answer in camera.items():
            assert verification_path(s, itype, place) == answer, f"seed {seed}: verifying {itype} at {place}"
            area_judged += itype == "waterlogging"
            area_held += itype == "waterlogging" and answer[0]
        held += len(holds)
    # the scenes exercise what they claim: rules hold and fail, the area rule too
    assert held > CASES // 2 and 20 < area_held < area_judged


def test_area_share_is_the_union_of_boxes():
    """Two overlapping boxes covering 75% of a zone count 75%, not the 100% their areas add up to."""
    from gridsight.issues import Detections, IssueRule, Zone, judge

    road = Zone("road", "roadway", [(0, 0), (160, 0), (160, 100), (0, 100)])
    water = IssueRule("waterlogging", ("water",), ("roadway",), min_score=0.3, min_area_share=0.8)
    dets = Detections.from_named([[0, 0, 80, 100], [40, 0, 120, 100]], [0.9, 0.9], ["water", "water"])
    (f,) = judge(dets, (100, 160), [water], [road])
    assert not f.present and abs(f.coverage - 0.75) < 0.02
    (f,) = judge(dets[:1], (100, 160), [IssueRule("waterlogging", ("water",), ("roadway",), min_area_share=0.5)],
                 [road])
    assert f.present and f.subjects.tolist() == [0]


def test_camera_sensitivity_changes_only_that_camera(tmp_path):
    """A camera's ``sensitivity`` sets its threshold; another camera keeps the rule's, the model's
    operating point fills in where the rule sets none."""
    from gridsight.issues import Detections, RuleBook, load_cameras, load_catalogue

    cfg = tmp_path / "cameras.yaml"
    cfg.write_text(yaml.safe_dump({"cameras": [
        {"id": "strict", "url": "rtsp://x/1", "sensitivity": {"smoke": {"min_score": 0.6}}},
        {"id": "plain", "url": "rtsp://x/2"}]}))
    strict, plain = load_cameras(cfg)
    rules = load_catalogue(CONFIGS_DIR / "issues.yaml")
    points = {"smoke": 0.5, "fire": 0.2}

    def threshold(cam, itype, cls):
        return RuleBook(rules, cam.zones, min_scores=cam.min_scores, operating_points=points).thresholds[itype][cls]

    rules["smoke"] = replace(rules["smoke"], min_score=0.35)  # a rule with a min_score of its own
    rules["fire"] = replace(rules["fire"], min_score=0.35)
    assert threshold(strict, "smoke", "smoke") == 0.6
    assert threshold(plain, "smoke", "smoke") == rules["smoke"].min_score == 0.35
    assert threshold(strict, "fire", "fire") == threshold(plain, "fire", "fire") == 0.35
    rules["smoke"] = replace(rules["smoke"], min_score=None)  # no min_score of its own: the model's point
    assert threshold(plain, "smoke", "smoke") == 0.5 and threshold(strict, "smoke", "smoke") == 0.6
    smoke = Detections.from_named([[0, 0, 10, 10]], [0.55], ["smoke"])
    held = {cam.id: [f.rule.issue_type for f in RuleBook(rules, cam.zones, min_scores=cam.min_scores,
                                                         operating_points=points).judge(smoke, (100, 100)) if f.present]
            for cam in (strict, plain)}
    assert held == {"strict": [], "plain": ["smoke"]}
