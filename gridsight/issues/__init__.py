"""The domain core both the pipeline and the ticket API import: what an issue is and where.

* :mod:`~gridsight.issues.catalogue`: issue types from ``configs/issues.yaml`` (names, category
  codes, severity, rule) and the score threshold of a rule per class;
* :mod:`~gridsight.issues.cameras`: cameras, zones and sensitivity from ``configs/cameras.yaml``;
* :mod:`~gridsight.issues.zones`: zone geometry (bottom-centre membership, union area share,
  the one point-in-polygon test);
* :mod:`~gridsight.issues.detections`: the one detection value (:class:`Detections`);
* :mod:`~gridsight.issues.judgement`: the single-frame judgement every path calls.
"""

from gridsight.issues.cameras import Camera, find_camera, load_cameras
from gridsight.issues.catalogue import (DEFAULT_MIN_SCORE, SEVERITIES, IssueRule, load_catalogue, min_score,
                                        parse_catalogue, parse_min_scores)
from gridsight.issues.detections import Detections
from gridsight.issues.judgement import Finding, RuleBook, judge, places
from gridsight.issues.zones import ZONE_KINDS, Zone, check_polygon, parse_zones, points_in_polygon, whole_frame

__all__ = ["Camera", "DEFAULT_MIN_SCORE", "Detections", "Finding", "IssueRule", "RuleBook", "SEVERITIES",
           "ZONE_KINDS", "Zone", "find_camera", "judge", "load_catalogue", "load_cameras", "min_score",
           "parse_catalogue", "parse_min_scores", "parse_zones", "check_polygon", "places", "points_in_polygon", "whole_frame"]
