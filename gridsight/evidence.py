"""Evidence images: the one renderer for every path that stores a picture (camera, upload,
archive, verification), with the privacy blur they all share.

A rendering is three images of one frame (:func:`render`):

* ``raw``: the frame with every person blurred (:func:`blur_people`, boxes dilated);
* ``annotated``: the raw frame with the zone outline and the subjects' boxes and labels
  (bilingual with ``en+zh``), under a header band (issue, camera, zone, footage time) that is
  added above the frame, so it never hides a label, and wraps (or shrinks) to fit the width;
* ``crop``: a zoomed crop of the problem region (the subjects' boxes, drawn), for a reader who
  should not hunt for a small box in a corner (:func:`problem_crop`).

Which people are blurred is the caller's list (see :func:`people_boxes`): every person the
detector found at ``settings.privacy_conf`` or more (lower than any rule's threshold), plus, on
the camera path, the people seen in the frames around it. Blurring does not depend on the
issue: a person who is a subject is blurred too.

>>> import numpy as np
>>> frame = np.zeros((120, 160, 3), np.uint8)
>>> shots = render(frame, [{"class_name": "car", "score": 0.9, "box": [10, 20, 60, 70]}],
...                title="Illegal parking · cam-01 · 2026-01-01 08:00:00 UTC")
>>> shots.raw.shape, shots.annotated.shape[1], shots.crop.shape[2]
((120, 160, 3), 160, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable, Sequence

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PERSON = "person"
FONT_PATHS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
              "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
SUBJECT = (40, 40, 230)  # BGR red
ZONE = (0, 215, 255)  # BGR amber
DILATION = 0.2  # a blurred box grows by this share of its size on every side
CROP_SIDE = 480  # the crop's longer side (pixels)


@lru_cache(maxsize=16)
def font(size: int) -> ImageFont.ImageFont:
    """The evidence font at ``size`` px: a CJK-capable TrueType font when installed."""
    for path in FONT_PATHS:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            continue
    return ImageFont.load_default()


@lru_cache(maxsize=1)
def chinese_class_names() -> dict[str, str]:
    """Detector class name -> Chinese name (datasets/gridsight-issues.yaml)."""
    import yaml

    from gridsight.paths import DEFAULT_MANIFEST

    try:
        doc = yaml.safe_load(DEFAULT_MANIFEST.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return {c["name"]: c["zh"] for c in doc.get("classes") or [] if isinstance(c, dict) and c.get("zh")}


def bilingual(en: str, zh: str | None, language: str = "en+zh") -> str:
    """``en`` / ``zh`` / ``en zh`` by the operator language (English when there is no Chinese)."""
    if language == "zh" and zh:
        return zh
    if language == "en+zh" and zh:
        return f"{en} {zh}"
    return en


def class_label(class_name: str, language: str = "en+zh") -> str:
    """A detector class in the operator language: ``car`` / ``汽车`` / ``car 汽车``."""
    return bilingual(class_name, chinese_class_names().get(class_name), language)


def header_text(issue_name: str, camera_id: str | None, zone_id: str | None, when: float | datetime | None) -> str:
    """The header every path writes: ``issue · camera · zone · YYYY-MM-DD HH:MM:SS UTC``."""
    if isinstance(when, (int, float)):
        when = datetime.fromtimestamp(when, timezone.utc)
    parts = [issue_name, camera_id, zone_id,
             when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC") if when else None]
    return " · ".join(p for p in parts if p)


# --- privacy ---------------------------------------------------------------------
def people_boxes(detections: Iterable[dict], threshold: float = 0.0) -> list[list[float]]:
    """Boxes of the people among ``detections`` (``{class_name, score, box}``) at ``threshold`` or more."""
    return [list(map(float, d["box"])) for d in detections
            if d.get("class_name") == PERSON and float(d.get("score", 1.0)) >= threshold]


def dilate(boxes: Iterable[Sequence[float]], shape: tuple, share: float = DILATION) -> list[tuple[int, int, int, int]]:
    """Integer boxes grown by ``share`` of their size on each side, clipped to the image."""
    h, w = shape[:2]
    out = []
    for x1, y1, x2, y2 in boxes:
        dx, dy = (x2 - x1) * share + 2, (y2 - y1) * share + 2
        b = (max(0, int(x1 - dx)), max(0, int(y1 - dy)), min(w, int(np.ceil(x2 + dx))), min(h, int(np.ceil(y2 + dy))))
        if b[2] - b[0] >= 2 and b[3] - b[1] >= 2:
            out.append(b)
    return out


def blur_people(image: np.ndarray, boxes: Iterable[Sequence[float]], share: float = DILATION) -> np.ndarray:
    """A copy of ``image`` (BGR) with every box, dilated by ``share``, pixelated and blurred
    beyond recognition. The one privacy blur of every stored image."""
    out = image.copy()
    for x1, y1, x2, y2 in dilate(boxes, out.shape, share):
        roi = out[y1:y2, x1:x2]
        coarse = cv2.resize(roi, (max(1, (x2 - x1) // 10), max(1, (y2 - y1) // 10)), interpolation=cv2.INTER_AREA)
        k = max(3, (min(x2 - x1, y2 - y1) // 4) | 1)
        out[y1:y2, x1:x2] = cv2.GaussianBlur(cv2.resize(coarse, (x2 - x1, y2 - y1)), (k, k), 0)
    return out


def render_public(image: np.ndarray, detections: Iterable[dict], threshold: float = 0.0) -> np.ndarray:
    """``image`` with the people among ``detections`` blurred (for a public rendition)."""
    return blur_people(image, people_boxes(detections, threshold))


# --- drawing ----------------------------------------------------------------------
def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))


def _bgr(img: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)


def _fitting_font(text: str, size: int, width: int) -> ImageFont.ImageFont:
    while size > 8 and font(size).getlength(text) > width:
        size -= 1
    return font(size)


def draw_subjects(image: np.ndarray, subjects: Sequence[dict], polygon=None, language: str = "en+zh") -> np.ndarray:
    """A copy with the zone outline and each subject's box and ``class score #track`` label; a label
    sits above its box where there is room, else inside it, and always inside the image."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(2, round(min(h, w) / 300))
    if polygon is not None and len(polygon):
        cv2.polylines(out, [np.round(np.asarray(polygon, np.float64)).astype(np.int32)], True, ZONE, thick, cv2.LINE_AA)
    for s in subjects:
        x1, y1, x2, y2 = (int(round(v)) for v in s["box"])
        cv2.rectangle(out, (x1, y1), (x2, y2), SUBJECT, thick, cv2.LINE_AA)
    if not subjects:
        return out
    img = _pil(out)
    draw = ImageDraw.Draw(img)
    for s in subjects:
        x1, y1 = s["box"][0], s["box"][1]
        text = f"{class_label(s['class_name'], language)} {float(s['score']):.2f}"
        if s.get("track_id") is not None:
            text += f" #{s['track_id']}"
        f = _fitting_font(text, max(12, h // 40), w - 6)
        tw, th = f.getbbox(text)[2:]
        ty = y1 - th - 4 if y1 - th - 4 >= 0 else max(0, y1)
        tx = max(0, min(x1, w - tw - 6))
        draw.rectangle([tx, ty, tx + tw + 6, ty + th + 4], fill=SUBJECT[::-1])
        draw.text((tx + 3, ty + 1), text, font=f, fill=(255, 255, 255))
    return _bgr(img)


def wrap(text: str, f: ImageFont.ImageFont, width: float) -> list[str]:
    """``text`` broken into lines no wider than ``width`` at spaces (a word too long alone is
    broken between characters)."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        trial = f"{line} {word}" if line else word
        if f.getlength(trial) <= width:
            line = trial
            continue
        if line:
            lines.append(line)
        line = ""
        for ch in word:  # a word wider than the line: break it
            if line and f.getlength(line + ch) > width:
                lines.append(line)
                line = ""
            line += ch
    if line:
        lines.append(line)
    return lines


def header_layout(title: str, width: int, height: int) -> tuple[ImageFont.ImageFont, list[str]]:
    """The font and the lines the header is drawn with: the full ``title``, every line within
    ``width`` (with its margins), at most three lines (the font shrinks until it fits)."""
    size = max(14, height // 28)
    while True:
        f = font(size)
        lines = wrap(title, f, width - 12)
        if len(lines) <= 3 or size <= 8:
            return f, lines
        size -= 1


def with_header(image: np.ndarray, title: str) -> np.ndarray:
    """``image`` under a black band holding ``title`` (wrapped to the image width)."""
    h, w = image.shape[:2]
    f, lines = header_layout(title, w, h)
    line_h = f.getbbox("Ag国")[3] + 4
    band = Image.new("RGB", (w, line_h * len(lines) + 8), (0, 0, 0))
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((6, 4 + i * line_h), line, font=f, fill=(255, 255, 255))
    return np.vstack([_bgr(band), image])


def crop_box(boxes: Sequence[Sequence[float]], shape: tuple, margin: float = 0.5,
             min_side: int = 96) -> tuple[int, int, int, int]:
    """The region a crop shows: the union of ``boxes`` grown by ``margin`` of its size (at least
    ``min_side`` pixels a side), clipped to the image; the whole image without boxes."""
    h, w = shape[:2]
    if not len(boxes):
        return 0, 0, w, h
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w = max((x2 - x1) * (1 + 2 * margin), min_side) / 2
    half_h = max((y2 - y1) * (1 + 2 * margin), min_side) / 2
    x1, x2 = max(0, int(cx - half_w)), min(w, int(np.ceil(cx + half_w)))
    y1, y2 = max(0, int(cy - half_h)), min(h, int(np.ceil(cy + half_h)))
    return x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)


def problem_crop(image: np.ndarray, subjects: Sequence[dict], language: str = "en+zh", side: int = CROP_SIDE,
                 polygon=None) -> np.ndarray:
    """A zoomed crop (longer side ``side`` px) of the problem region of ``image`` (already
    privacy-blurred), with the subjects' boxes, labels and the zone drawn at the crop's scale:
    what a reviewer or a thumbnail shows."""
    x1, y1, x2, y2 = crop_box([s["box"] for s in subjects], image.shape)
    roi = image[y1:y2, x1:x2]
    scale = side / max(roi.shape[:2])
    size = (max(1, round(roi.shape[1] * scale)), max(1, round(roi.shape[0] * scale)))
    zoomed = cv2.resize(roi, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)

    def moved(points):
        return [[(x - x1) * scale, (y - y1) * scale] for x, y in points]

    shown = [{**s, "box": [v for p in moved([s["box"][:2], s["box"][2:]]) for v in p]} for s in subjects]
    return draw_subjects(zoomed, shown, moved(polygon) if polygon is not None and len(polygon) else None, language)


# --- the whole rendering -------------------------------------------------------------
@dataclass
class Rendered:
    raw: np.ndarray  # people blurred
    annotated: np.ndarray  # header band + the raw frame with zone, boxes and labels
    crop: np.ndarray  # zoomed problem region

    def jpegs(self, quality: int = 90) -> dict[str, bytes]:
        """``{"annotated", "raw", "crop"}`` -> JPEG bytes."""
        return {k: encode_jpeg(getattr(self, k), quality) for k in ("annotated", "raw", "crop")}


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def render(frame: np.ndarray, subjects: Sequence[dict], *, people: Iterable[Sequence[float]] = (),
           title: str = "", polygon=None, language: str = "en+zh") -> Rendered:
    """The evidence of one frame (BGR): ``subjects`` ``[{class_name, score, box, track_id?}]`` are
    the objects the issue is about, ``people`` the person boxes to blur, ``polygon`` the zone in
    pixels, ``title`` the header (see :func:`header_text`)."""
    raw = blur_people(frame, people)
    drawn = draw_subjects(raw, subjects, polygon, language)
    return Rendered(raw=raw, annotated=with_header(drawn, title) if title else drawn,
                    crop=problem_crop(raw, subjects, language, polygon=polygon))
