"""Frames from paths: images, folders and video files, with one clear reason per bad input.

:func:`expand_inputs` turns PATH arguments into media items (folders are walked, sorted);
:func:`read_image` and :func:`read_video` yield frames or raise :class:`MediaError`, whose
message is the one line a user sees. Video frames are decoded in a reader thread so decoding
overlaps detection.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # our one line per bad video, not FFmpeg's chatter

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv", ".flv"}


class MediaError(Exception):
    """An input that cannot be read; str() is the reason, without the path."""


@dataclass(frozen=True)
class Media:
    path: Path
    kind: str  # "image" | "video" | "missing" | "unknown"


def kind_of(path: Path) -> str:
    suffix = path.suffix.lower()
    return "video" if suffix in VIDEO_EXTS else "image" if suffix in IMAGE_EXTS else "unknown"


def expand_inputs(paths: list[str | Path]) -> list[Media]:
    out: list[Media] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and kind_of(f) != "unknown")
            out.extend(Media(f, kind_of(f)) for f in found)
        elif p.exists():
            out.append(Media(p, kind_of(p)))
        else:
            out.append(Media(p, "missing"))
    return out


def _truncated(data: bytes) -> bool:
    if data[:3] == b"\xff\xd8\xff":  # JPEG ends with EOI
        return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return b"IEND" not in data[-16:]
    return False


def read_image(path: Path) -> np.ndarray:
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise MediaError("is a directory") from None
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}") from None
    if not data:
        raise MediaError("empty file (0 bytes)")
    if _truncated(data):
        raise MediaError("truncated image (the file ends before the image data does)")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise MediaError("not an image (cannot decode it)")
    return img


def open_video(path: Path) -> cv2.VideoCapture:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MediaError(f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise MediaError("empty file (0 bytes)")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise MediaError("unsupported or unreadable video (cannot open its container or codec)")
    return cap


def video_frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        cap.release()


def read_video(path: Path, stride: int = 1, prefetch: int = 16) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, frame) for every ``stride``-th frame, decoded in a background thread."""
    cap = open_video(path)
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise MediaError("unsupported or unreadable video (no frame could be decoded)")
    q: queue.Queue = queue.Queue(maxsize=prefetch)
    stop = threading.Event()

    def reader() -> None:
        i = 1
        try:
            while not stop.is_set():
                if (i % stride) == 0:
                    ok, frame = cap.read()
                else:
                    ok, frame = cap.grab(), None
                if not ok:
                    break
                if frame is not None:
                    q.put((i, frame))
                i += 1
        finally:
            cap.release()
            q.put(None)

    thread = threading.Thread(target=reader, name=f"video-{path.name}", daemon=True)
    thread.start()
    try:
        yield 0, first
        while (item := q.get()) is not None:
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                q.get(timeout=0.1)
            except queue.Empty:
                pass
