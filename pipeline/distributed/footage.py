"""Archived footage on disk: probe keyframes without decoding, read a frame range.

PyAV (FFmpeg's demuxer) lists every video packet's timestamp and keyframe flag in one pass
without decoding a picture (vtest.avi, 795 frames: ~5 ms), which is what segment planning
needs. OpenCV cannot do that: ``CAP_PROP_POS_FRAMES`` seeks blindly and the keyframe flag is
only known after decoding each frame, so planning a month of footage with it would cost as
much as decoding it all.

>>> info = probe("/usr/share/doc/opencv-doc/examples/data/vtest.avi")  # doctest: +SKIP
>>> info.frames, info.keyframes[:3]                                     # doctest: +SKIP
(795, [0, 250, 500])
>>> [i for i, t, img in read_frames(info, 250, 253)]                    # doctest: +SKIP
[250, 251, 252]

Footage time of frame ``i`` is ``info.times[i]`` seconds from the start of the file (its
presentation timestamp); the job adds its footage start time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np


class FootageError(Exception):
    """The file is missing, unreadable or has no decodable video stream."""


@dataclass
class FootageInfo:
    path: str
    frames: int
    fps: float
    width: int
    height: int
    times: list[float] = field(repr=False)  # seconds from start, per frame in presentation order
    keyframes: list[int] = field(default_factory=list)  # frame indices that start a GOP
    pts0: int = 0  # presentation timestamp of frame 0, in stream time base units

    @property
    def duration_s(self) -> float:
        if not self.times:
            return 0.0
        return self.times[-1] + (1.0 / self.fps if self.fps else 0.0)

    def to_dict(self) -> dict:
        """JSON-ready; frame times as arithmetic runs (a constant-rate hour is one run, not
        90,000 numbers: a month of footage is ~70,000 such files in Redis)."""
        return {"path": self.path, "frames": self.frames, "fps": self.fps, "width": self.width,
                "height": self.height, "time_runs": time_runs(self.times), "keyframes": self.keyframes,
                "pts0": self.pts0}

    @classmethod
    def from_dict(cls, d: dict) -> "FootageInfo":
        d = dict(d)
        if "time_runs" in d:
            d["times"] = times_of(d.pop("time_runs"))
        return cls(**d)


def time_runs(times: list[float]) -> list[list]:
    """``[[first, step, count], ...]`` reproducing ``times`` exactly (to the microsecond).

    >>> time_runs([0.0, 0.1, 0.2, 0.3, 0.5])
    [[0.0, 0.1, 4], [0.5, 0.0, 1]]
    >>> times_of(time_runs([0.0, 0.1, 0.2, 0.3, 0.5]))
    [0.0, 0.1, 0.2, 0.3, 0.5]
    """
    runs, i, n = [], 0, len(times)
    while i < n:
        if i + 1 == n:
            runs.append([times[i], 0.0, 1])
            break
        t0, step, k = times[i], round(times[i + 1] - times[i], 9), 1
        while i + k + 1 < n and round(t0 + (k + 1) * step, 6) == times[i + k + 1]:
            k += 1
        if k == 1 and round(t0 + step, 6) != times[i + 1]:
            runs.append([t0, 0.0, 1])
            i += 1
            continue
        runs.append([t0, step, k + 1])
        i += k + 1
    return runs


def times_of(runs: list[list]) -> list[float]:
    return [round(t0 + j * step, 6) for t0, step, count in runs for j in range(int(count))]


def _open(path: str):
    import av

    p = Path(path)
    if not p.is_file():
        raise FootageError(f"{path}: no such file")
    try:
        container = av.open(str(p))
    except Exception as exc:  # PyAV raises several FFmpeg error types
        raise FootageError(f"{path}: not a readable video ({type(exc).__name__}: {exc})") from exc
    if not container.streams.video:
        container.close()
        raise FootageError(f"{path}: no video stream")
    return container


def probe(path: str | Path) -> FootageInfo:
    """Frame timestamps and keyframe positions from the container, without decoding."""
    path = str(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        tb = float(stream.time_base) if stream.time_base else 0.0
        packets: list[tuple[int, bool]] = []
        try:
            for pkt in container.demux(stream):
                ts = pkt.pts if pkt.pts is not None else pkt.dts
                if ts is None or pkt.size == 0:
                    continue
                packets.append((int(ts), bool(pkt.is_keyframe)))
        except Exception as exc:
            raise FootageError(f"{path}: corrupt video stream ({type(exc).__name__}: {exc})") from exc
        if not packets:
            raise FootageError(f"{path}: the video stream has no frames")
        packets.sort()
        t0 = packets[0][0]
        times = [round((ts - t0) * tb, 6) for ts, _ in packets]
        keyframes = [i for i, (_, key) in enumerate(packets) if key]
        if not keyframes or keyframes[0] != 0:
            keyframes = [0] + keyframes
        fps = float(stream.average_rate or stream.guessed_rate or 0.0)
        cc = stream.codec_context
        info = FootageInfo(path, len(packets), fps, int(cc.width or 0), int(cc.height or 0), times, keyframes, t0)
    finally:
        container.close()
    # A container can index fine and still hold no decodable picture: decode the first one.
    for _ in read_frames(info, 0, 1):
        break
    else:
        raise FootageError(f"{path}: no decodable frame")
    return info


def read_frames(info: FootageInfo, start: int, end: int) -> Iterator[tuple[int, float, np.ndarray]]:
    """Frames ``start <= i < end`` as ``(index, seconds, BGR image)``, decoding from the
    keyframe at or before ``start`` (frames before ``start`` are decoded and dropped)."""
    container = _open(info.path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base else 0.0
        if start > 0 and tb:
            # the demuxer lands on the keyframe at or before the target presentation time
            container.seek(info.pts0 + round(info.times[start] / tb), stream=stream, backward=True, any_frame=False)
        index_of = {round(t, 4): i for i, t in enumerate(info.times)}
        i = -1
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = round((frame.pts - info.pts0) * tb, 6)
                i = index_of.get(round(t, 4), i + 1)
                if i < start:
                    continue
                if i >= end:
                    break
                yield i, t, frame.to_ndarray(format="bgr24")
        except Exception as exc:
            raise FootageError(f"{info.path}: decoding failed near frame {i + 1} ({type(exc).__name__}: {exc})") from exc
    finally:
        container.close()
