"""Uploaded images -> incidents: the core's single-frame judgement on one picture.

The stream pipeline adds time (persistence, dwell, clearing); an upload is a single moment, so
here every rule that holds on the picture makes an incident: the same judgement as a camera
frame (:func:`gridsight.issues.judge`: classes, thresholds, zones of the given camera by the
bottom-centre of the boxes, area rules by the union of the boxes), with dwell not judged.

The incident key is ``upload:<sha256 of the image>:<issue type>:<zone>``, so uploading the
same picture again updates the same tickets instead of making new ones.
"""

from __future__ import annotations

from collections.abc import Mapping

from gridsight.issues import Detections, Finding, IssueRule, Zone, judge


def upload_incidents(dets: Detections, shape: tuple[int, ...], rules: Mapping[str, IssueRule], zones: list[Zone],
                     *, min_scores: Mapping[str, float] | None = None,
                     operating_points: Mapping[str, float] | None = None) -> list[Finding]:
    """The (rule, place) findings that hold on this picture (``Finding.subjects`` index ``dets``)."""
    return [f for f in judge(dets, shape, rules, zones, min_scores=min_scores, operating_points=operating_points)
            if f.present]


def incident_key(sha256: str, issue_type: str, zone_id: str | None) -> str:
    return f"upload:{sha256}:{issue_type}:{zone_id or 'any'}"
