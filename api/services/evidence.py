"""Evidence images: uploads checked (bytes, pixels, sniffed content), stored by content hash
under a readable prefix (camera, day, kind). Images are drawn and blurred by the shared renderer
(:mod:`gridsight.evidence`).

The store is the shared :class:`api.storage.objects.ObjectStore` (local folder or S3). An
upload is accepted when its first bytes say JPEG, PNG or WebP (the file name and the declared
content type are ignored), it is at most ``upload_max_bytes`` long and its header declares at
most ``upload_max_pixels`` pixels (checked before anything is decoded).
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from api.services.errors import Invalid, TooLarge
from gridsight.evidence import encode_jpeg, people_boxes, problem_crop, render
from gridsight.issues import Detections

SIGNATURES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"))
CHUNK = 1 << 20


def sniff(data: bytes) -> str | None:
    """The image type the bytes themselves declare, or None."""
    for magic, ctype in SIGNATURES:
        if data.startswith(magic):
            return ctype
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class UploadedImage:
    name: str
    data: bytes
    content_type: str
    width: int
    height: int

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def read_image(stream, name: str, field: str, max_bytes: int, max_pixels: int) -> UploadedImage:
    """Read an uploaded file object, enforcing the caps; 413 / 422 with the reason otherwise."""
    buf = bytearray()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        buf += chunk
        if len(buf) > max_bytes:
            raise TooLarge(f"{field} ({name}): larger than the {max_bytes} byte limit")
    data = bytes(buf)
    if not data:
        raise Invalid(("body", field), f"{name}: empty file")
    ctype = sniff(data)
    if ctype is None:
        raise Invalid(("body", field), f"{name}: not a JPEG, PNG or WebP image (the content is checked, "
                                       "not the file name)")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            width, height = im.size
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Invalid(("body", field), f"{name}: unreadable image ({exc})") from None
    if width * height > max_pixels:
        raise TooLarge(f"{field} ({name}): {width}x{height} is more than the {max_pixels} pixel limit")
    return UploadedImage(name, data, ctype, width, height)


def decode_bgr(image: UploadedImage, field: str = "files") -> np.ndarray:
    import cv2

    frame = cv2.imdecode(np.frombuffer(image.data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        raise Invalid(("body", field), f"{image.name}: the image data is corrupt")
    return frame


def object_prefix(camera_id: str | None, when: datetime, kind: str) -> str:
    """Where an evidence image is stored: ``evidence/<camera>/<YYYY-MM-DD>/<kind>`` (``upload`` for
    pictures without a camera), so a person browsing the store can tell what an object belongs
    to; the object's name is still the hash of its bytes (the same image, the same key)."""
    camera = re.sub(r"[^a-z0-9_-]+", "-", (camera_id or "upload").lower()).strip("-_") or "camera"
    return f"evidence/{camera[:60]}/{when.astimezone(timezone.utc):%Y-%m-%d}/{kind}"


def store_evidence(store, data: bytes, content_type: str, kind: str, prefix: str = "evidence") -> dict:
    """Put bytes in the object store; returns the evidence reference a ticket keeps."""
    key = store.put(data, content_type, prefix)
    return {"kind": kind, "object_key": key, "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": content_type}


def store_rendered(store, images: dict[str, bytes], camera_id: str | None, when: datetime) -> list[dict]:
    """Store rendered evidence JPEGs (``{kind: bytes}``, see :meth:`gridsight.evidence.Rendered.jpegs`)."""
    return [store_evidence(store, data, "image/jpeg", kind, object_prefix(camera_id, when, kind))
            for kind, data in images.items()]


def crop_of(raw: bytes, detections: list[dict], language: str) -> bytes | None:
    """The zoomed problem crop of a (privacy-blurred) raw evidence image and its detections' boxes,
    or None when it cannot be decoded or there is no box."""
    import cv2

    if not detections:
        return None
    frame = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        return None
    return encode_jpeg(problem_crop(frame, detections, language))


def detect_with_people(detector, frames: list[np.ndarray], privacy_conf: float) -> list[tuple[Detections, list]]:
    """Per frame: (the detections at the detector's own threshold, the person boxes at the privacy
    threshold). One detector run: at the lower of the two thresholds, split afterwards."""
    own = getattr(detector, "conf", None)
    lower = own is not None and privacy_conf < own
    results = detector.detect(frames, conf=privacy_conf) if lower else detector.detect(frames)
    return [(d[d.scores >= own] if lower else d, people_boxes(d.to_list(), privacy_conf))
            for d in results]


def store_picture_evidence(store, settings, image: UploadedImage, frame: np.ndarray, subjects: list[dict],
                           people: list, title: str, polygon, camera_id: str | None, when: datetime) -> list[dict]:
    """Render an uploaded picture's evidence (people blurred, annotated, crop), store it, and the
    unblurred original too only when ``settings.keep_upload_originals`` says so."""
    shots = render(frame, subjects, people=people, title=title, polygon=polygon, language=settings.language)
    refs = store_rendered(store, shots.jpegs(), camera_id, when)
    if settings.keep_upload_originals:
        refs.append(store_evidence(store, image.data, image.content_type, "original",
                                   object_prefix(camera_id, when, "original")))
    return refs
