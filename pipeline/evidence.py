"""Evidence: the incident's best frame as JPEG, raw and annotated.

Annotated: the zone outline, the subjects' boxes with class and score, and a banner with the
issue name in the configured language (``en``, ``zh`` or ``en+zh``; Chinese is drawn with the
WenQuanYi font through PIL, as OpenCV's fonts have no CJK glyphs) and the footage time.
People who are not the subject are blurred in both images (``blur_people``, on by default).
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.incidents import IncidentEvent
from pipeline.track import box_iou

FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SUBJECT = (40, 40, 230)  # BGR red
ZONE = (0, 215, 255)  # BGR amber
PRIVATE = ("person",)


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.ImageFont:
    for path in FONT_CANDIDATES:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


def blur_boxes(image: np.ndarray, boxes: list[list[float]]) -> np.ndarray:
    out = image.copy()
    h, w = out.shape[:2]
    for x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = max(0, int(x1)), max(0, int(y1)), min(w, int(x2 + 0.999)), min(h, int(y2 + 0.999))
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        roi = out[y1:y2, x1:x2]
        coarse = cv2.resize(roi, (max(1, (x2 - x1) // 10), max(1, (y2 - y1) // 10)), interpolation=cv2.INTER_AREA)
        k = max(3, (min(x2 - x1, y2 - y1) // 4) | 1)
        out[y1:y2, x1:x2] = cv2.GaussianBlur(cv2.resize(coarse, (x2 - x1, y2 - y1)), (k, k), 0)
    return out


def people_to_blur(event: IncidentEvent) -> list[list[float]]:
    """Boxes of people in the evidence frame who are not among the incident's subjects."""
    ev = event.evidence
    if ev is None:
        return []
    subjects = [np.asarray(s["box"], np.float32) for s in ev.subjects if s["class_name"] in PRIVATE]
    out = []
    for o in ev.others:
        if o.get("class_name") not in PRIVATE:
            continue
        b = np.asarray(o["box"], np.float32)
        if not any(box_iou(b, s) > 0.7 for s in subjects):
            out.append(list(map(float, b)))
    return out


def render(event: IncidentEvent, *, language: str = "en+zh", blur_people: bool = True,
           quality: int = 90) -> tuple[bytes, bytes] | None:
    """(annotated JPEG, raw JPEG) of the event's evidence frame, or None if it has no frame."""
    ev = event.evidence
    if ev is None or ev.frame is None:
        return None
    raw = blur_boxes(ev.frame, people_to_blur(event)) if blur_people else ev.frame
    ann = raw.copy()
    h, w = ann.shape[:2]
    thick = max(2, round(min(h, w) / 300))
    if event.place_polygon:
        cv2.polylines(ann, [np.round(np.asarray(event.place_polygon)).astype(np.int32)], True, ZONE, thick,
                      cv2.LINE_AA)
    for s in ev.subjects:
        x1, y1, x2, y2 = (int(round(v)) for v in s["box"])
        cv2.rectangle(ann, (x1, y1), (x2, y2), SUBJECT, thick, cv2.LINE_AA)
    img = Image.fromarray(cv2.cvtColor(ann, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(img)
    small = font(max(12, h // 40))
    for s in ev.subjects:
        x1, y1 = s["box"][0], s["box"][1]
        label = f"{s['class_name']} {s['score']:.2f}" + (f" #{s['track_id']}" if s.get("track_id") is not None else "")
        tw, th = draw.textbbox((0, 0), label, font=small)[2:]
        ty = max(0, y1 - th - 4)
        x1 = max(0, min(x1, w - tw - 6))  # keep the label inside the frame
        draw.rectangle([x1, ty, x1 + tw + 6, ty + th + 4], fill=SUBJECT[::-1])
        draw.text((x1 + 3, ty + 1), label, font=small, fill=(255, 255, 255))
    when = datetime.fromtimestamp(ev.time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    zone = f" · {event.zone_id}" if event.zone_id else ""
    title = f"{event.rule.name(language)} · {event.camera_id}{zone} · {when}"
    big = font(max(14, h // 28))
    tw, th = draw.textbbox((0, 0), title, font=big)[2:]
    draw.rectangle([0, 0, min(w, tw + 12), th + 10], fill=(0, 0, 0))
    draw.text((6, 4), title, font=big, fill=(255, 255, 255))
    ann = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    return cv2.imencode(".jpg", ann, params)[1].tobytes(), cv2.imencode(".jpg", raw, params)[1].tobytes()
