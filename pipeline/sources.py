"""Frame sources: live streams (RTSP, HTTP, MJPEG), video files, image folders, single images.

* :class:`LiveSource`: one reader thread per camera keeps only the newest frame (a frame the
  pipeline did not take before the next arrived is *dropped* and counted), reconnects with
  exponential backoff, and reports :class:`Health` (online, last frame time, measured fps,
  dropped frames, reconnects). Footage time is the wall clock.
* :class:`FileSource`: every sampled frame, in order, as fast as the consumer takes them (never
  drops). Footage time is the start time plus the frame's timestamp in the file.

>>> src = open_source("/usr/share/doc/opencv-doc/examples/data/vtest.avi", "cam", sample_fps=2)  # doctest: +SKIP
>>> next(iter(src)).time  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

log = logging.getLogger("gridsight.pipeline.sources")
# FFmpeg's own messages ("Connection refused", ...) would interleave with status lines; the
# reader logs what happened to a stream itself. Read when OpenCV's FFmpeg backend starts.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class Frame:
    camera_id: str
    image: np.ndarray  # BGR uint8
    time: float  # footage time, epoch seconds (UTC)
    index: int  # frame number in the source
    pts: float = 0.0  # seconds since the source started


@dataclass
class Health:
    online: bool = False
    last_frame_time: float | None = None
    fps: float = 0.0  # measured frames/s arriving from the source
    frames: int = 0
    dropped: int = 0  # frames replaced by a newer one before the pipeline took them
    reconnects: int = 0
    error: str = ""


class FileSource:
    """Sampled frames of a video file, an image folder or one image, in order."""

    live = False

    def __init__(self, path: str | Path, camera_id: str, *, sample_fps: float = 2.0,
                 start_time: float | None = None) -> None:
        self.path = Path(path)
        self.camera_id = camera_id
        self.sample_fps = float(sample_fps)
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such file or folder")
        self.start_time = self.path.stat().st_mtime if start_time is None else float(start_time)
        self.health = Health(online=True)
        self.total_frames, self.native_fps = self._probe()

    def _probe(self) -> tuple[int, float]:
        if self.path.is_dir():
            return len(self._images()), self.sample_fps
        if self.path.suffix.lower() in IMAGE_EXTS:
            return 1, self.sample_fps
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened():
                raise ValueError(f"{self.path}: not a video OpenCV can read")
            fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
            return int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), fps if 0 < fps < 1000 else 25.0
        finally:
            cap.release()

    @property
    def expected_samples(self) -> int:
        """How many frames iterating will give (about, for videos)."""
        if self.path.is_dir() or self.path.suffix.lower() in IMAGE_EXTS:
            return self.total_frames
        return max(1, int(self.total_frames / self.native_fps * min(self.sample_fps, self.native_fps) + 0.999))

    def _images(self) -> list[Path]:
        return sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTS)

    def __iter__(self) -> Iterator[Frame]:
        if self.path.is_dir() or self.path.suffix.lower() in IMAGE_EXTS:
            yield from self._iter_images()
        else:
            yield from self._iter_video()

    def _iter_images(self) -> Iterator[Frame]:
        files = self._images() if self.path.is_dir() else [self.path]
        for i, f in enumerate(files):
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                log.warning("skipping unreadable image", extra={"camera": self.camera_id, "file": str(f)})
                continue
            pts = i / self.sample_fps
            self._count(pts)
            yield Frame(self.camera_id, img, self.start_time + pts, i, pts)

    def _iter_video(self) -> Iterator[Frame]:
        # one decoding thread per camera: cameras decode side by side, and FFmpeg's own extra threads
        # only add CPU time (5-10% more per frame, measured) where every core is already busy
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
        if not cap.isOpened():
            cap = cv2.VideoCapture(str(self.path))
        step = 1.0 / self.sample_fps
        next_pts, i = 0.0, 0
        try:
            while cap.grab():  # grab every frame (cheap), decode to pixels only the sampled ones
                pts = i / self.native_fps
                if pts + 1e-6 >= next_pts:
                    ok, img = cap.retrieve()
                    if ok:
                        self._count(pts)
                        yield Frame(self.camera_id, img, self.start_time + pts, i, pts)
                    next_pts += step
                    if next_pts < pts:  # sample rate above the file's: every frame
                        next_pts = pts + step
                i += 1
        finally:
            cap.release()
            self.health.online = False

    def _count(self, pts: float) -> None:
        self.health.frames += 1
        self.health.last_frame_time = self.start_time + pts

    def close(self) -> None:
        pass


class LiveSource:
    """Newest-frame-only reader of a live stream, with reconnect and health."""

    live = True

    def __init__(self, url: str, camera_id: str, *, open_timeout_s: float = 5.0, read_timeout_s: float = 5.0,
                 backoff_s: tuple[float, float] = (0.5, 30.0)) -> None:
        self.url = url
        self.camera_id = camera_id
        self.open_timeout_s, self.read_timeout_s = open_timeout_s, read_timeout_s
        self.backoff_min, self.backoff_max = backoff_s
        self.health = Health()
        self._lock = threading.Condition()
        self._latest: Frame | None = None
        self._taken = True
        self._index = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"reader-{camera_id}", daemon=True)
        self._arrivals: list[float] = []
        self._start_wall = time.time()

    def start(self) -> "LiveSource":
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._lock.notify_all()
        self._thread.join(timeout=self.read_timeout_s + 2)

    def read(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken, waiting up to ``timeout`` s; None if none came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._taken and not self._stop.is_set():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._lock.wait(left)
            if self._taken:
                return None
            self._taken = True
            return self._latest

    def __iter__(self) -> Iterator[Frame]:
        while not self._stop.is_set():
            f = self.read(timeout=0.5)
            if f is not None:
                yield f

    def _open(self):
        if hasattr(cv2, "utils") and hasattr(cv2.utils, "logging"):
            cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(self.read_timeout_s * 1000)]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if not cap.isOpened():
            cap.release()
            return None
        return cap

    def _run(self) -> None:
        delay = self.backoff_min
        first = True
        while not self._stop.is_set():
            cap = self._open()
            if cap is None:
                self._offline("cannot open stream")
                self._stop.wait(delay)
                delay = min(self.backoff_max, delay * 2)
                continue
            if not first:
                self.health.reconnects += 1
                log.info("stream back", extra={"camera": self.camera_id, "reconnects": self.health.reconnects})
            first = False
            try:
                while not self._stop.is_set():
                    ok, img = cap.read()
                    if not ok or img is None:
                        self._offline("stream ended")
                        break
                    delay = self.backoff_min  # a working connection resets the backoff
                    self._publish(img)
            finally:
                cap.release()
            self._stop.wait(delay)

    def _publish(self, img: np.ndarray) -> None:
        now = time.time()
        h = self.health
        h.online, h.error, h.frames, h.last_frame_time = True, "", h.frames + 1, now
        self._arrivals = [a for a in self._arrivals if now - a <= 5.0] + [now]
        span = self._arrivals[-1] - self._arrivals[0]
        h.fps = (len(self._arrivals) - 1) / span if span > 0 else 0.0
        with self._lock:
            if not self._taken:
                h.dropped += 1
            self._latest = Frame(self.camera_id, img, now, self._index, now - self._start_wall)
            self._index += 1
            self._taken = False
            self._lock.notify_all()

    def _offline(self, why: str) -> None:
        if self.health.online:
            log.warning("stream lost", extra={"camera": self.camera_id, "why": why})
        self.health.online, self.health.error, self.health.fps = False, why, 0.0
        self._arrivals = []


def is_live(url: str) -> bool:
    return url.lower().startswith(LIVE_SCHEMES)


def open_source(url: str, camera_id: str, *, sample_fps: float = 2.0, start_time: float | None = None):
    """A :class:`LiveSource` (started) for stream urls, else a :class:`FileSource`."""
    if is_live(url):
        return LiveSource(url, camera_id).start()
    return FileSource(url.removeprefix("file://"), camera_id, sample_fps=sample_fps, start_time=start_time)
