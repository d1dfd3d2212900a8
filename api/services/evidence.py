"""Evidence images: uploads checked (bytes, pixels, sniffed content), stored by content hash.

The store is the shared :class:`api.storage.objects.ObjectStore` (local folder or S3). An
upload is accepted when its first bytes say JPEG, PNG or WebP (the file name and the declared
content type are ignored), it is at most ``upload_max_bytes`` long and its header declares at
most ``upload_max_pixels`` pixels (checked before anything is decoded).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np

from api.services.errors import Invalid, TooLarge

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


def encode_jpeg(frame: np.ndarray, quality: int = 85) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def annotate(frame: np.ndarray, detections: list[dict]) -> np.ndarray:
    """A copy of ``frame`` with boxes and ``class score`` labels drawn."""
    import cv2

    out = frame.copy()
    thick = max(1, round(max(out.shape[:2]) / 500))
    for d in detections:
        x1, y1, x2, y2 = (int(round(v)) for v in d["box"])
        cv2.rectangle(out, (x1, y1), (x2, y2), (0, 0, 255), thick)
        label = f"{d['class_name']} {d['score']:.2f}"
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, thick)
        cv2.rectangle(out, (x1, max(0, y1 - th - 6)), (x1 + tw + 4, y1), (0, 0, 255), -1)
        cv2.putText(out, label, (x1 + 2, max(th, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return out


def store_evidence(store, data: bytes, content_type: str, kind: str) -> dict:
    """Put bytes in the object store; returns the evidence reference a ticket keeps."""
    key = store.put(data, content_type)
    return {"kind": kind, "object_key": key, "sha256": hashlib.sha256(data).hexdigest(),
            "content_type": content_type}
