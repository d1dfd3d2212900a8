"""A citizen's Open311 report (GeoReport v2 POST): contact fields checked, the photo judged.

The photo goes the way of ``POST /api/v1/detect``: sniffed and capped on upload, run through the
detector, the issue rules judged on it (without a camera, only rules for ``any`` zone can hold).
What they find becomes the detections and evidence of the report's own ticket (never a second
ticket). Its evidence is rendered and stored as every upload's is (people blurred, annotated, crop).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from api.services.errors import Invalid
from api.services.evidence import UploadedImage, decode_bgr, store_picture_evidence
from api.services.uploads import upload_incidents
from gridsight.evidence import header_text

# field -> longest accepted value
CONTACT_FIELDS = {"first_name": 200, "last_name": 200, "email": 320, "phone": 64, "description": 4000}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^[0-9+()./ -]{3,64}$")


def contact_fields(fields: dict) -> dict[str, str | None]:
    """The reporter's fields, stripped (None when absent); 422 with the reason when malformed."""
    out: dict[str, str | None] = {}
    for name, limit in CONTACT_FIELDS.items():
        value = (fields.get(name) or "").strip()
        if len(value) > limit:
            raise Invalid(("body", name), f"{name} is longer than {limit} characters")
        out[name] = value or None
    if out["email"] and not EMAIL.match(out["email"]):
        raise Invalid(("body", "email"), "email is not an e-mail address")
    if out["phone"] and not PHONE.match(out["phone"]):
        raise Invalid(("body", "phone"), "phone may hold digits, spaces and + ( ) . / - only")
    return out


@dataclass
class JudgedPhoto:
    subjects: list[dict] = field(default_factory=list)  # the detections the issue rules hold on
    evidence: list[dict] = field(default_factory=list)  # annotated, raw and crop references (blurred)
    findings: list[dict] = field(default_factory=list)  # [{issue_type, score}] the rules found

    @property
    def score(self) -> float:
        return max((d["score"] for d in self.subjects), default=0.0)


def judge_photo(gs, image: UploadedImage) -> JudgedPhoto:
    """Detect, judge the rules, store the blurred evidence (annotated, raw, crop)."""
    frame = decode_bgr(image, "media")
    _, [(dets, people)] = gs.detect([frame])
    incidents = upload_incidents(dets, frame.shape, gs.rules.issue_types, [],
                                 operating_points=gs.model_operating_points())
    subjects = dets[np.unique(np.concatenate([f.subjects for f in incidents] or [[]]).astype(int))].to_list()
    now = gs.clock.now()
    evidence = store_picture_evidence(gs.store, gs.settings, image, frame, subjects, people,
                                      header_text("Open311", None, None, now), None, None, now)
    return JudgedPhoto(subjects, evidence, [{"issue_type": f.rule.issue_type, "score": round(f.score, 4)}
                                            for f in incidents])
