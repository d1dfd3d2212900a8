"""Evidence of an incident event: its best frame rendered by the shared renderer
(:mod:`gridsight.evidence`: zone outline, subjects' boxes with bilingual labels, a header with the
issue name in the configured language, the footage time, and every person blurred).

The people blurred are those the processor collected for the frame (:mod:`pipeline.processing`:
every person detected at the privacy threshold in the frame and in the frames around it).
"""

from __future__ import annotations

from gridsight.evidence import Rendered, header_text, people_boxes
from gridsight.evidence import render as render_frame
from pipeline.incidents import IncidentEvent


def render_event(event: IncidentEvent, *, language: str = "en+zh", blur_people: bool = True) -> Rendered | None:
    """The event's evidence images, or None if it has no frame."""
    ev = event.evidence
    if ev is None or ev.frame is None:
        return None
    title = header_text(event.rule.name(language), event.camera_id, event.zone_id, ev.time)
    return render_frame(ev.frame, ev.subjects, people=people_boxes(ev.others) if blur_people else (),
                        title=title, polygon=event.place_polygon, language=language)


def render(event: IncidentEvent, *, language: str = "en+zh", blur_people: bool = True,
           quality: int = 90) -> tuple[bytes, bytes] | None:
    """(annotated JPEG, raw JPEG) of the event's evidence frame, or None if it has no frame. (The
    ticket service makes the zoomed crop from the raw image and the detections.)"""
    shots = render_event(event, language=language, blur_people=blur_people)
    if shots is None:
        return None
    jpegs = shots.jpegs(quality)
    return jpegs["annotated"], jpegs["raw"]
